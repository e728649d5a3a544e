package caddyfile

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
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

// examplePromise is one thing an example's comments promise, checked on
// the JSON the example adapts to.
type examplePromise struct {
	what  string
	holds func(c exampleJSON) bool
}

// examplePromises lists, for every Caddyfile in examples/, what its
// comments say it does. A new example needs an entry here.
var examplePromises = map[string][]examplePromise{
	"Caddyfile": {
		{"admin API on localhost:2019", func(c exampleJSON) bool { return c.str("admin", "listen") == "localhost:2019" }},
		{"Caddy's local CA", func(c exampleJSON) bool { return c.issuerModules() == "internal" }},
		{"tlsguard intermediate, enforce", tlsguardRuns("intermediate")},
		{"pinreport on", pinreportRuns},
		{"hsts on the HTTPS port, default max-age", func(c exampleJSON) bool {
			h := c.handlers(8443)
			return len(h) > 0 && h[0]["handler"] == "hsts" && h[0]["max_age"] == nil
		}},
		{"https_redirect on the HTTP port", redirectOnHTTP(8080)},
		{"Caddy's own redirect off", redirectsDisabled},
	},
	"modern.Caddyfile": {
		{"Caddy's local CA", func(c exampleJSON) bool { return c.issuerModules() == "internal" }},
		{"tlsguard modern, enforce", tlsguardRuns("modern")},
		{"hsts on the HTTPS port", hstsFirst(8443)},
		{"https_redirect on the HTTP port", redirectOnHTTP(8080)},
		{"Caddy's own redirect off", redirectsDisabled},
	},
	"reverse-proxy.Caddyfile": {
		{"Caddy's local CA", func(c exampleJSON) bool { return c.issuerModules() == "internal" }},
		{"tlsguard intermediate, enforce", tlsguardRuns("intermediate")},
		{"pinreport on", pinreportRuns},
		{"hsts before reverse_proxy", hstsFirst(8443)},
		{"reverse_proxy to 127.0.0.1:9000 with Caddy's own X-Forwarded-* (no header_up)", func(c exampleJSON) bool {
			for _, h := range c.handlers(8443) {
				if h["handler"] == "reverse_proxy" {
					return h["headers"] == nil && c.str2(h, "upstreams") == `[{"dial":"127.0.0.1:9000"}]`
				}
			}
			return false
		}},
		{"no trusted_proxies", noTrustedProxies},
		{"https_redirect on the HTTP port", redirectOnHTTP(8080)},
		{"Caddy's own redirect off", redirectsDisabled},
	},
	"production.Caddyfile": {
		{"ACME with the account email, P-256 keys reused on renewal, for both names", func(c exampleJSON) bool {
			for _, p := range c.list("apps", "tls", "automation", "policies") {
				if c.str2(p, "subjects") == `["example.com","www.example.com"]` {
					return p["reuse_private_keys"] == true && p["key_type"] == "p256" &&
						strings.Contains(c.str2(p, "issuers"), `"email":"ops@example.com","module":"acme"`)
				}
			}
			return false
		}},
		{"tlsguard intermediate, enforce", tlsguardRuns("intermediate")},
		{"pinreport with a signed webhook, secret from the environment", func(c exampleJSON) bool {
			return c.str("apps", "pinreport", "webhook", "url") == "https://alerts.example.com/caddy" &&
				c.str("apps", "pinreport", "webhook", "secret") == "{env.PINREPORT_SECRET}"
		}},
		{"hsts ramped to two years with preload", func(c exampleJSON) bool {
			h := c.handlers(443)
			return len(h) > 0 && h[0]["handler"] == "hsts" && h[0]["max_age"] == float64(63072000) &&
				h[0]["preload"] == true && len(c.list2(h[0], "ramp", "stages")) == 3
		}},
		{"the canonical-host redirect over HTTPS, after hsts", func(c exampleJSON) bool {
			h := c.handlers(443)
			return len(h) > 1 && h[0]["handler"] == "hsts" && h[1]["handler"] == "https_redirect" &&
				h[1]["canonical_host"] == "example.com"
		}},
		{"https_redirect on the HTTP port", redirectOnHTTP(80)},
		{"Caddy's own redirect off", redirectsDisabled},
		{"no trusted_proxies: no proxy in front of Caddy", noTrustedProxies},
	},
}

// TestExamplesKeepTheirPromises adapts every Caddyfile in examples/, checks
// the JSON against what the file's comments promise, and validates it the
// way `caddy validate` does (every module provisioned, nothing started),
// with storage in a temporary directory.
func TestExamplesKeepTheirPromises(t *testing.T) {
	// production.Caddyfile signs its webhook with this secret, and a
	// config whose secret placeholder is empty is refused.
	t.Setenv("PINREPORT_SECRET", "example-secret")
	files, _ := filepath.Glob("../examples/*.Caddyfile")
	files = append(files, "../examples/Caddyfile")
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			adapted, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(src, map[string]any{"filename": f})
			if err != nil {
				t.Fatalf("adapting: %v", err)
			}
			for _, w := range warnings {
				t.Errorf("adapt warning: %s:%d: %s", w.File, w.Line, w.Message)
			}
			var c exampleJSON
			if err := json.Unmarshal(adapted, &c.v); err != nil {
				t.Fatal(err)
			}
			promises, ok := examplePromises[name]
			if !ok {
				t.Fatalf("examples/%s has no entry in examplePromises: list what its comments promise", name)
			}
			for _, p := range promises {
				if !p.holds(c) {
					t.Errorf("does not keep its promise: %s", p.what)
				}
			}

			var cfg caddy.Config
			if err := json.Unmarshal(adapted, &cfg); err != nil {
				t.Fatal(err)
			}
			cfg.StorageRaw = caddyconfig.JSONModuleObject(map[string]string{"root": t.TempDir()}, "module", "file_system", nil)
			if err := caddy.Validate(&cfg); err != nil {
				t.Errorf("validate: %v", err)
			}
		})
	}
}

func tlsguardRuns(profile string) func(exampleJSON) bool {
	return func(c exampleJSON) bool {
		mode := c.str("apps", "tlsguard", "mode")
		return c.str("apps", "tlsguard", "profile") == profile && (mode == "" || mode == "enforce")
	}
}

func pinreportRuns(c exampleJSON) bool { return c.get("apps", "pinreport") != nil }

func hstsFirst(port int) func(exampleJSON) bool {
	return func(c exampleJSON) bool {
		h := c.handlers(port)
		return len(h) > 0 && h[0]["handler"] == "hsts"
	}
}

func redirectOnHTTP(port int) func(exampleJSON) bool {
	return func(c exampleJSON) bool {
		h := c.handlers(port)
		return len(h) == 1 && h[0]["handler"] == "https_redirect"
	}
}

func redirectsDisabled(c exampleJSON) bool {
	servers, _ := c.get("apps", "http", "servers").(map[string]any)
	for _, s := range servers {
		if c.get2(s, "automatic_https", "disable_redirects") != true {
			return false
		}
	}
	return len(servers) > 0
}

func noTrustedProxies(c exampleJSON) bool {
	servers, _ := c.get("apps", "http", "servers").(map[string]any)
	for _, s := range servers {
		if c.get2(s, "trusted_proxies") != nil {
			return false
		}
	}
	return true
}

// exampleJSON is an adapted config, decoded into maps and slices.
type exampleJSON struct{ v any }

func (c exampleJSON) get(path ...string) any { return c.get2(c.v, path...) }

func (exampleJSON) get2(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func (c exampleJSON) str(path ...string) string {
	s, _ := c.get(path...).(string)
	return s
}

// str2 returns the compact JSON of the value at path under v.
func (c exampleJSON) str2(v any, path ...string) string {
	b, _ := json.Marshal(c.get2(v, path...))
	return string(b)
}

func (c exampleJSON) list(path ...string) []map[string]any { return c.list2(c.v, path...) }

func (c exampleJSON) list2(v any, path ...string) []map[string]any {
	var out []map[string]any
	items, _ := c.get2(v, path...).([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// issuerModules lists the issuer modules of every automation policy.
func (c exampleJSON) issuerModules() string {
	var mods []string
	for _, p := range c.list("apps", "tls", "automation", "policies") {
		for _, iss := range c.list2(p, "issuers") {
			mods = append(mods, iss["module"].(string))
		}
	}
	return strings.Join(mods, ",")
}

// handlers returns, in order, every handler of the servers that listen
// on port, subroutes flattened.
func (c exampleJSON) handlers(port int) []map[string]any {
	servers, _ := c.get("apps", "http", "servers").(map[string]any)
	var out []map[string]any
	var walk func(routes []map[string]any)
	walk = func(routes []map[string]any) {
		for _, r := range routes {
			for _, h := range c.list2(r, "handle") {
				if h["handler"] == "subroute" {
					walk(c.list2(h, "routes"))
					continue
				}
				out = append(out, h)
			}
		}
	}
	for _, s := range servers {
		listen, _ := c.get2(s, "listen").([]any)
		if slices.Contains(listen, any(":"+strconv.Itoa(port))) {
			walk(c.list2(s, "routes"))
		}
	}
	return out
}
