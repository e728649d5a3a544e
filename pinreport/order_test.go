package pinreport

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	_ "github.com/caddyserver/caddy/v2/modules/caddytls"
)

// TestTLSErrorSameInEitherOrder: pinreport loads the tls app in its
// Provision (to be subscribed when manual certificates are announced); a
// failing tls app must fail the config with the tls app's error, not one
// wrapped in "loading pinreport app module", whichever app Caddy loads
// first. See tlsguard's TestHTTPErrorSameInEitherOrder for the one phrase
// ("provision tls: ") Caddy's own two orders differ by.
func TestTLSErrorSameInEitherOrder(t *testing.T) {
	tlsApp := json.RawMessage(`{"automation": {"policies": [{"issuers": [{"module": "no_such_issuer"}]}]}}`)
	_, err := caddy.ProvisionContext(&caddy.Config{AppsRaw: caddy.ModuleMap{"tls": tlsApp}})
	if err == nil {
		t.Fatal("the tls app alone loaded")
	}
	first := err.Error()
	kept, ok := strings.CutPrefix(first, "loading tls app module: provision tls: ")
	if !ok {
		t.Fatalf("error %q does not start as Caddy words it", first)
	}
	kept = "loading tls app module: " + kept

	seen := map[string]int{}
	for range 200 {
		_, err := caddy.ProvisionContext(&caddy.Config{AppsRaw: caddy.ModuleMap{"pinreport": json.RawMessage(`{}`), "tls": tlsApp}})
		if err == nil {
			t.Fatal("the config loaded")
		}
		seen[err.Error()]++
	}
	for msg := range seen {
		if msg != first && msg != kept {
			t.Errorf("error %q\nwant %q\nor   %q", msg, first, kept)
		}
	}
	if seen[first] == 0 || seen[kept] == 0 {
		t.Errorf("loaded first by Caddy %d times, by pinreport %d times in 200; want both orders", seen[first], seen[kept])
	}
}
