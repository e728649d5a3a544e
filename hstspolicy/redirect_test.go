package hstspolicy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestRedirectProvisionValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		rd   Redirect
		want string
	}{
		{"no_hosts_no_app", Redirect{}, "hosts = []: is empty and there is no http app to take the HTTPS host names from; fix: list the host names"},
		{"canonical_not_on_hosts", Redirect{Hosts: []string{"www.example.com"}, CanonicalHost: "example.com"}, `canonical_host = "example.com": is not on hosts (www.example.com); fix: add it to hosts`},
		{"canonical_url", Redirect{Hosts: []string{"example.com"}, CanonicalHost: "https://example.com"}, `canonical_host = "https://example.com": malformed host: it is a URL; fix: write a bare name such as "example.com", without scheme or port`},
		{"catch_all", Redirect{Hosts: []string{"*"}}, `hosts[0] = "*": only a whole first label may be a wildcard; a catch-all would allow redirects to any host; fix: `},
		{"path_in_host", Redirect{Hosts: []string{"a.example", "example.com/x"}}, `hosts[1] = "example.com/x": malformed host: byte '/' not allowed; fix: write a bare host name`},
		{"canonical_with_port", Redirect{Hosts: []string{"a.example"}, CanonicalHost: "a.example:443"}, `canonical_host = "a.example:443"`},
		{"status_302", Redirect{Hosts: []string{"a.example"}, StatusCode: 302}, "status_code = 302: is not a permanent redirect; fix: use 308"},
		{"port_negative", Redirect{Hosts: []string{"a.example"}, Port: -1}, "port = -1: is not a TCP port; fix: use a port from 1 to 65535"},
		{"ok", Redirect{Hosts: []string{"a.example"}, StatusCode: 301}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := tc.rd
			err := rd.Provision(testContext(t))
			if err == nil {
				err = rd.Validate()
			}
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRedirectServeHTTP(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rd       Redirect
		target   string
		host     string
		secure   bool
		status   int
		location string
	}{
		{"default_port_dropped", Redirect{Hosts: []string{"example.com"}, Port: 443}, "/a?b=c", "example.com", false, 308, "https://example.com/a?b=c"},
		{"custom_port_kept", Redirect{Hosts: []string{"example.com"}, Port: 8443}, "/a", "example.com:8080", false, 308, "https://example.com:8443/a"},
		{"status_301", Redirect{Hosts: []string{"example.com"}, StatusCode: 301}, "/", "example.com", false, 301, "https://example.com/"},
		{"ipv6", Redirect{Hosts: []string{"::1"}, Port: 8443}, "/", "[::1]:8080", false, 308, "https://[::1]:8443/"},
		{"not_allowed", Redirect{Hosts: []string{"example.com"}}, "/", "evil.example", false, 421, ""},
		{"malformed", Redirect{Hosts: []string{"example.com"}}, "/", "example.com@evil.example", false, 400, ""},
		{"secure_passes", Redirect{Hosts: []string{"example.com"}}, "/", "example.com", true, 200, ""},
		{"canonical_over_https", Redirect{Hosts: []string{"www.example.com", "example.com"}, CanonicalHost: "example.com"}, "/p", "www.example.com", true, 308, "https://example.com/p"},
		{"canonical_itself", Redirect{Hosts: []string{"www.example.com", "example.com"}, CanonicalHost: "example.com"}, "/p", "example.com", true, 200, ""},
		{"canonical_same_host_first", Redirect{Hosts: []string{"www.example.com", "example.com"}, CanonicalHost: "example.com"}, "/p", "www.example.com", false, 308, "https://www.example.com/p"},
		{"canonical_unlisted_over_https", Redirect{Hosts: []string{"www.example.com", "example.com"}, CanonicalHost: "example.com"}, "/p", "evil.example", true, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := tc.rd
			if err := rd.Provision(testContext(t)); err != nil {
				t.Fatal(err)
			}
			if err := rd.Validate(); err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			r.Host = tc.host
			if tc.secure {
				r = tlsRequestFor(r)
			}
			rec := httptest.NewRecorder()
			err := rd.ServeHTTP(rec, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				w.WriteHeader(200)
				return nil
			}))
			if err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.status || rec.Header().Get("Location") != tc.location {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Header().Get("Location"), tc.status, tc.location)
			}
		})
	}
}

func tlsRequestFor(r *http.Request) *http.Request {
	r.TLS = tlsRequest().TLS
	return r
}

func TestHTTPSHostsFromApp(t *testing.T) {
	host := func(names ...string) caddyhttp.MatcherSet {
		mh := caddyhttp.MatchHost(names)
		return caddyhttp.MatcherSet{&mh}
	}
	sub := &caddyhttp.Subroute{Routes: caddyhttp.RouteList{{MatcherSets: caddyhttp.MatcherSets{host("nested.example")}}}}
	app := &caddyhttp.App{Servers: map[string]*caddyhttp.Server{
		"https": {
			TLSConnPolicies: caddytls.ConnectionPolicies{new(caddytls.ConnectionPolicy)},
			Routes: caddyhttp.RouteList{
				{MatcherSets: caddyhttp.MatcherSets{host("a.example", "*.b.example", "{env.HOST}")}, Handlers: []caddyhttp.MiddlewareHandler{sub}},
			},
		},
		"plain": {Routes: caddyhttp.RouteList{{MatcherSets: caddyhttp.MatcherSets{host("plain.example")}}}},
	}}
	hl := HTTPSHosts(app)
	for h, want := range map[string]bool{"a.example": true, "x.b.example": true, "nested.example": true, "plain.example": false} {
		if hl.Allows(h) != want {
			t.Errorf("Allows(%q) = %v, want %v", h, !want, want)
		}
	}
	if hl.Len() != 3 {
		t.Errorf("Len = %d, want 3 (placeholder skipped): %v", hl.Len(), hl.Patterns())
	}
}

// TestRedirectCanonicalMustBeServed refuses a canonical_host that no HTTPS
// site of the config serves, naming the sites.
func TestRedirectCanonicalMustBeServed(t *testing.T) {
	app := siteApp(new(Handler), "example.com", "www.example.com")
	app.Servers["wild"] = &caddyhttp.Server{
		TLSConnPolicies: caddytls.ConnectionPolicies{new(caddytls.ConnectionPolicy)},
		Routes:          caddyhttp.RouteList{{MatcherSets: matchHosts("*.tenant.example")}},
	}
	for _, tc := range []struct {
		canonical, want string
	}{
		{"example.com", ""},
		{"WWW.Example.com.", ""},
		{"acme.tenant.example", ""},
		{"plain.example", `canonical_host = "plain.example": is not a site this config serves over HTTPS (`},
		{"evil.example", "fix: name one of those sites, or add a site block for evil.example"},
	} {
		rd := &Redirect{CanonicalHost: tc.canonical}
		err := rd.provisionWith(testContext(t), app)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.canonical, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.canonical, err, tc.want)
		}
	}
}

// TestRedirectRefusalsCounted provisions two redirect handlers on one
// config's registry (one collector, no registration error), refuses
// hostile requests and reads the counter by reason. Refusals are logged at
// debug level only.
func TestRedirectRefusalsCounted(t *testing.T) {
	ctx := testContext(t)
	var handlers []*Redirect
	for range 2 {
		rd := &Redirect{Hosts: []string{"example.com"}}
		if err := rd.Provision(ctx); err != nil {
			t.Fatalf("second handler on one registry: %v", err)
		}
		handlers = append(handlers, rd)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	handlers[0].logger = zap.New(core)
	for _, host := range []string{"evil.example", "evil.example", "a@b", ""} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Host = host
		_ = handlers[0].ServeHTTP(httptest.NewRecorder(), r, writeOK)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Host = "evil.example"
	_ = handlers[1].ServeHTTP(httptest.NewRecorder(), r, writeOK)

	reg := ctx.GetMetricsRegistry()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range families {
		if mf.GetName() != "https_redirect_refusals_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"host_not_allowed": 3, "malformed_host": 1, "no_host": 1, "malformed_target": 0}
	if len(got) != len(want) {
		t.Errorf("series %v, want %v", got, want)
	}
	for reason, n := range want {
		if got[reason] != n {
			t.Errorf("reason %s: %v, want %v", reason, got[reason], n)
		}
	}
	if n := logs.FilterMessage("refused https redirect").Len(); n != 4 {
		t.Errorf("%d debug lines, want 4", n)
	}
	for _, e := range logs.All() {
		if e.Level > zapcore.DebugLevel {
			t.Errorf("refusal logged at %s: %s", e.Level, e.Message)
		}
	}
}
