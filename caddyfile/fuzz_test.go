package caddyfile

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/hardtls/caddy-hardtls/hstspolicy"
)

// module is what the fuzzers provision after a successful adapt.
type module interface {
	caddy.Provisioner
	caddy.Validator
}

// fuzzAdapt adapts a Caddyfile (which must not panic) and, when it adapts,
// decodes every JSON object whose key field equals name into a fresh module
// and provisions and validates it (which must not panic either; errors are
// fine).
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
			return // e.g. a value the module's JSON refuses; Caddy would too
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
