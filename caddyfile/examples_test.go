package caddyfile

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// TestExampleJSONMatchesAdapt keeps examples/Caddyfile.json equal to what
// `caddy adapt` makes of examples/Caddyfile; -update rewrites it.
func TestExampleJSONMatchesAdapt(t *testing.T) {
	src, err := os.ReadFile("../examples/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	adapted, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, map[string]any{"filename": "Caddyfile"})
	if err != nil {
		t.Fatalf("adapting examples/Caddyfile: %v", err)
	}
	var got bytes.Buffer
	if err := json.Indent(&got, adapted, "", "\t"); err != nil {
		t.Fatal(err)
	}
	got.WriteByte('\n')
	const path = "../examples/Caddyfile.json"
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("examples/Caddyfile.json differs from `caddy adapt --config examples/Caddyfile`; run go test ./caddyfile -update and review:\n%s", got.String())
	}
}

// TestExamplesAdapt adapts every Caddyfile in examples/.
func TestExamplesAdapt(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.Caddyfile")
	files = append(files, "../examples/Caddyfile")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, map[string]any{"filename": f}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
