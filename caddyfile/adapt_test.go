package caddyfile

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

var update = flag.Bool("update", false, "rewrite the JSON of testdata/*.caddyfiletest with the adapter's output (review the diff)")

// TestAdapt runs every testdata/*.caddyfiletest: a Caddyfile, a line of
// dashes, then either the JSON `caddy adapt` must produce or, after
// "ERROR:", a text the adapt error must contain.
func TestAdapt(t *testing.T) {
	files, err := filepath.Glob("testdata/*.caddyfiletest")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.caddyfiletest files")
	}
	adapter := caddyconfig.GetAdapter("caddyfile")
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".caddyfiletest")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := strings.Cut(string(raw), "\n----------\n")
			if !ok {
				t.Fatalf("%s: no ---------- separator", file)
			}
			got, _, err := adapter.Adapt([]byte(input), map[string]any{"filename": "Caddyfile"})
			if wantErr, isErr := strings.CutPrefix(strings.TrimSpace(want), "ERROR:"); isErr {
				wantErr = strings.TrimSpace(wantErr)
				if err == nil {
					t.Fatalf("adapt succeeded; want error containing %q; got JSON:\n%s", wantErr, got)
				}
				if !strings.Contains(err.Error(), wantErr) {
					t.Fatalf("adapt error %q does not contain %q", err, wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			var gotBuf, wantBuf bytes.Buffer
			if err := json.Indent(&gotBuf, got, "", "\t"); err != nil {
				t.Fatal(err)
			}
			if err := json.Indent(&wantBuf, []byte(want), "", "\t"); err != nil {
				t.Fatalf("expected JSON in %s is invalid: %v", file, err)
			}
			if *update && strings.TrimSpace(gotBuf.String()) != strings.TrimSpace(wantBuf.String()) {
				gotBuf.WriteByte('\n')
				if err := os.WriteFile(file, append([]byte(input+"\n----------\n"), gotBuf.Bytes()...), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if strings.TrimSpace(gotBuf.String()) != strings.TrimSpace(wantBuf.String()) {
				t.Errorf("adapted JSON differs\n--- got\n%s\n--- want\n%s", gotBuf.String(), wantBuf.String())
			}
		})
	}
}
