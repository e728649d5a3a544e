package caddyfile

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

// TestJSONTwins decodes, provisions and validates the handler JSON next to
// each testdata/err_{hsts,redirect}_*.caddyfiletest, as a JSON config
// would have Caddy do, and requires the error the Caddyfile gives: the
// same decision with the same text, since both come from hstspolicy. Every
// such Caddyfile error about a value ("field = value: ...") has a twin.
func TestJSONTwins(t *testing.T) {
	var files []string
	for _, pattern := range []string{"testdata/err_hsts_*.caddyfiletest", "testdata/err_redirect_*.caddyfiletest"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	twins := 0
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		_, want, _ := strings.Cut(string(raw), "\n----------\n")
		want = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(want), "ERROR:"))
		twin := strings.TrimSuffix(file, ".caddyfiletest") + ".json"
		handlerJSON, err := os.ReadFile(twin)
		if os.IsNotExist(err) {
			if strings.Contains(want, " = ") {
				t.Errorf("%s: a value error without a JSON twin %s", file, twin)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		twins++
		t.Run(strings.TrimSuffix(filepath.Base(file), ".caddyfiletest"), func(t *testing.T) {
			err := loadHandler(t, handlerJSON)
			if err == nil {
				t.Fatalf("the JSON twin was accepted; the Caddyfile says %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("JSON error %q\ndoes not contain the Caddyfile's %q", err, want)
			}
		})
	}
	if twins < 10 {
		t.Errorf("only %d JSON twins", twins)
	}
}

// loadHandler decodes a handler's JSON into its module strictly, as Caddy
// does, then provisions and validates it.
func loadHandler(t *testing.T, raw []byte) error {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := json.Unmarshal(fields["handler"], &name); err != nil {
		t.Fatalf("no handler name in %s", raw)
	}
	delete(fields, "handler")
	body, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	info, err := caddy.GetModule("http.handlers." + name)
	if err != nil {
		t.Fatal(err)
	}
	mod := info.New()
	if err := caddy.StrictUnmarshalJSON(body, &mod); err != nil {
		return err
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if p, ok := mod.(caddy.Provisioner); ok {
		if err := p.Provision(ctx); err != nil {
			return err
		}
	}
	if c, ok := mod.(caddy.CleanerUpper); ok {
		defer c.Cleanup()
	}
	if v, ok := mod.(caddy.Validator); ok {
		return v.Validate()
	}
	return nil
}
