package tlsguard

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	_ "github.com/caddyserver/caddy/v2/modules/caddyhttp/standard"
)

// TestHTTPErrorSameInEitherOrder loads configs whose http app fails, with
// and without tlsguard. Caddy provisions apps in map order, so tlsguard
// loads the http app itself about one time in eight; either way the error
// must be the http app's, not wrapped in "loading tlsguard app module".
//
// Caddy itself words the two orders apart by one phrase: when the loop
// over the apps loads the http app first, the error reads "loading http
// app module: provision http: X"; when another app loaded it first, the
// loop reports the error Caddy kept for it (failedApps, context.go), which
// is X without "provision http: ". The test pins both forms and sees both.
func TestHTTPErrorSameInEitherOrder(t *testing.T) {
	for _, handler := range []string{
		`{"handler": "hsts", "max_age": 600, "preload": true}`,
		`{"handler": "https_redirect", "status_code": 302}`,
		`{"handler": "no_such_handler"}`,
	} {
		httpApp := json.RawMessage(`{"servers": {"srv0": {"listen": [":0"], "routes": [{"handle": [` + handler + `]}]}}}`)
		_, err := caddy.ProvisionContext(&caddy.Config{AppsRaw: caddy.ModuleMap{"http": httpApp}})
		if err == nil {
			t.Fatalf("%s: the http app alone loaded", handler)
		}
		first := err.Error() // the http app loaded by Caddy's loop
		kept, ok := strings.CutPrefix(first, "loading http app module: provision http: ")
		if !ok {
			t.Fatalf("%s: error %q does not start as Caddy words it", handler, first)
		}
		kept = "loading http app module: " + kept // the http app loaded by tlsguard

		seen := map[string]int{}
		for range 200 {
			cfg := &caddy.Config{AppsRaw: caddy.ModuleMap{"tlsguard": json.RawMessage(`{"require_hsts": true}`), "http": httpApp}}
			_, err := caddy.ProvisionContext(cfg)
			if err == nil {
				t.Fatalf("%s: the config loaded", handler)
			}
			seen[err.Error()]++
		}
		for msg := range seen {
			if msg != first && msg != kept {
				t.Errorf("%s: error %q\nwant %q\nor   %q", handler, msg, first, kept)
			}
		}
		if seen[first] == 0 || seen[kept] == 0 {
			t.Errorf("%s: loaded first by Caddy %d times, by tlsguard %d times in 200; want both orders", handler, seen[first], seen[kept])
		}
	}
}
