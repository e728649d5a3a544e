package caddyfile

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/hardtls/caddy-hardtls/hstspolicy"
	"github.com/hardtls/caddy-hardtls/pinreport"
	"github.com/hardtls/caddy-hardtls/tlsguard"
)

// module is what the fuzzers provision after a successful adapt.
type module interface {
	caddy.Provisioner
	caddy.Validator
}

// fuzzAdapt adapts a Caddyfile (which must not panic) and, when it adapts,
// decodes every JSON object whose key field equals name into a fresh module
// — which must succeed, since the Caddyfile parses values with the module's
// own parsers — and provisions and validates it (which must not panic
// either; errors are fine).
func fuzzAdapt(t *testing.T, input []byte, key, name string, newModule func() module) {
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(input, nil)
	if err != nil {
		return
	}
	var tree any
	if err := json.Unmarshal(out, &tree); err != nil {
		t.Fatalf("adapter produced invalid JSON: %v\n%s", err, out)
	}
	walkJSON(tree, func(obj map[string]any) {
		if obj[key] != name {
			return
		}
		raw, _ := json.Marshal(obj)
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(raw, &fields)
		delete(fields, key)
		raw, _ = json.Marshal(fields)
		m := newModule()
		if err := json.Unmarshal(raw, m); err != nil {
			t.Fatalf("the Caddyfile accepted what the module's JSON refuses: %v\n%s", err, raw)
		}
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		defer cancel()
		if m.Provision(ctx) == nil {
			_ = m.Validate()
		}
	})
}

func walkJSON(v any, visit func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		visit(v)
		for _, child := range v {
			walkJSON(child, visit)
		}
	case []any:
		for _, child := range v {
			walkJSON(child, visit)
		}
	}
}

func FuzzHSTSDirective(f *testing.F) {
	for _, s := range []string{"", "300", "730d {\n\t\tpreload\n\t}", "{\n\t\tinclude_subdomains off\n\t\tmax_age 0\n\t}",
		"{\n\t\tramp {\n\t\t\tstart 2026-12-01T00:00:00Z\n\t\t\tstage 300\n\t\t\tstage 7d 14d\n\t\t}\n\t}", "{\n\t\tmax_age 1\n\t\tmax_age 2\n\t}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		fuzzAdapt(t, []byte("example.com {\n\thsts "+body+"\n}\n"), "handler", "hsts",
			func() module { return new(hstspolicy.Handler) })
	})
}

func FuzzHTTPSRedirectDirective(f *testing.F) {
	for _, s := range []string{"", "301", "{\n\t\thosts a.example *.b.example\n\t\tcanonical_host a.example\n\t\tport 8443\n\t}", "{\n\t\thosts *\n\t}", "{\n\t\tport 0\n\t}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		fuzzAdapt(t, []byte("http:// {\n\thttps_redirect "+body+"\n}\n"), "handler", "https_redirect",
			func() module { return new(hstspolicy.Redirect) })
	})
}

// fuzzGlobalOption adapts a Caddyfile whose global options block holds the
// option with the given body (which must not panic) and, when it adapts,
// checks that the app's JSON decodes strictly into the app's struct, as
// Caddy will decode it. Whether the app then loads, and whether its JSON
// twin gets the same decision, is FuzzCaddyfileAndJSONAgree's to check.
func fuzzGlobalOption(t *testing.T, option, body string, app any) {
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte("{\n\t"+option+" "+body+"\n}\nexample.com {\n\trespond ok\n}\n"), nil)
	if err != nil {
		return
	}
	var cfg struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(out, &cfg); err != nil {
		t.Fatalf("adapter produced invalid JSON: %v\n%s", err, out)
	}
	raw, ok := cfg.Apps[option]
	if !ok {
		t.Fatalf("the %s option adapted without an app:\n%s", option, out)
	}
	if err := caddy.StrictUnmarshalJSON(raw, app); err != nil {
		t.Fatalf("the adapted %s app does not decode: %v\n%s", option, err, raw)
	}
}

func FuzzTLSGuardOption(f *testing.F) {
	for _, s := range []string{"", "modern", "intermediate {\n\t\tmode harden\n\t}", "{\n\t\tprofile custom\n\t\tprotocol_min tls1.2\n\t\tciphers TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n\t\tcurves x25519\n\t}",
		"{\n\t\tlint_interval 5m\n\t\ttelemetry off\n\t}", "{\n\t\tmode enforce\n\t\tmode audit\n\t}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		fuzzGlobalOption(t, "tlsguard", body, new(tlsguard.App))
	})
}

func FuzzPinReportOption(f *testing.F) {
	for _, s := range []string{"", "{\n\t\tscan_interval 30s\n\t}", "{\n\t\tpin a.example sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= sha256/BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBA=\n\t}",
		"{\n\t\twebhook https://alerts.example/hook {\n\t\t\tsecret s3cret\n\t\t\tretries 3\n\t\t}\n\t}", "{\n\t\twarning_before 14d\n\t\tcritical_before 3d\n\t}", "{\n\t\twebhook alerts.example/hook\n\t}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		fuzzGlobalOption(t, "pinreport", body, new(pinreport.App))
	})
}
