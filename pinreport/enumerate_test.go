package pinreport

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
)

func TestServedNames(t *testing.T) {
	hosts := func(h ...string) caddyhttp.Route {
		m := caddyhttp.MatchHost(h)
		return caddyhttp.Route{MatcherSets: caddyhttp.MatcherSets{{&m}}}
	}
	httpApp := &caddyhttp.App{Servers: map[string]*caddyhttp.Server{
		"https": {
			TLSConnPolicies: caddytls.ConnectionPolicies{{DefaultSNI: "default.example"}, {FallbackSNI: "fallback.example"}},
			Routes: caddyhttp.RouteList{
				hosts("b.example", "a.example", "{http.request.host}"),
				{Handlers: []caddyhttp.MiddlewareHandler{&caddyhttp.Subroute{Routes: caddyhttp.RouteList{hosts("sub.example", "a.example")}}}},
			},
		},
		"plain": {Routes: caddyhttp.RouteList{hosts("plain.example")}},
	}}
	got := ServedNames(httpApp, &caddytls.TLS{Automation: &caddytls.AutomationConfig{}})
	want := []string{"a.example", "b.example", "default.example", "fallback.example", "sub.example"}
	if !slices.Equal(got, want) {
		t.Errorf("ServedNames = %v, want %v", got, want)
	}
	if got := ServedNames(nil, nil); len(got) != 0 {
		t.Errorf("no apps: %v", got)
	}
}

func TestSortedCertificates(t *testing.T) {
	ca := newTestCA(t, "enum")
	tc := newTestCache(t)
	now := time.Now()
	tc.add(t, ca.leaf(t, []string{"b.example"}, now, now.Add(time.Hour), nil))
	tc.add(t, ca.leaf(t, []string{"*.w.example"}, now, now.Add(time.Hour), nil))
	tc.add(t, ca.leaf(t, []string{"a.example", "www.a.example"}, now, now.Add(time.Hour), nil))
	lookups := 0
	lookup := func(name string) []certmagic.Certificate {
		lookups++
		found := tc.cache.AllMatchingCertificates(name)
		if name == "b.example" {
			found = append(found, certmagic.Certificate{}) // no leaf: skipped
		}
		return found
	}
	certs := sortedCertificates([]string{"www.a.example", "b.example", "x.w.example", "a.example", "none.example"}, lookup)
	var first []string
	for _, c := range certs {
		first = append(first, c.Names[0])
	}
	if want := []string{"*.w.example", "a.example", "b.example"}; !slices.Equal(first, want) {
		t.Errorf("certificates %v, want %v (deduplicated, sorted, leafless skipped)", first, want)
	}
	if lookups != 5 {
		t.Errorf("%d lookups for 5 names", lookups)
	}
}

func TestServedCertificatesWithoutConfig(t *testing.T) {
	certs, err := ServedCertificates(caddy.Context{Context: context.Background()})
	if err != nil || len(certs) != 0 {
		t.Errorf("a context without apps: %d certificates, %v", len(certs), err)
	}
}
