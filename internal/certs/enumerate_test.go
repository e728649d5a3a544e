package certs

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
)

func TestNames(t *testing.T) {
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
	got := Names(httpApp, &caddytls.TLS{Automation: &caddytls.AutomationConfig{}})
	want := []string{"a.example", "b.example", "default.example", "fallback.example", "sub.example"}
	if !slices.Equal(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
	if got := Names(nil, nil); len(got) != 0 {
		t.Errorf("no apps: %v", got)
	}
}

func TestAppendMissing(t *testing.T) {
	got := AppendMissing([]string{"a", "b"}, []string{"b", "c", "a", "d"})
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("AppendMissing = %v, want %v", got, want)
	}
	if got := AppendMissing(nil, []string{"x"}); !slices.Equal(got, []string{"x"}) {
		t.Errorf("AppendMissing to nothing = %v", got)
	}
}

func TestCollectAndDistinct(t *testing.T) {
	tc := newTestCache(t)
	now := time.Now()
	tc.add(t, []string{"b.example"}, now, time.Hour)
	tc.add(t, []string{"*.w.example"}, now, time.Hour)
	tc.add(t, []string{"a.example", "www.a.example"}, now, time.Hour)
	lookups := 0
	lookup := func(name string) []certmagic.Certificate {
		lookups++
		found := tc.cache.AllMatchingCertificates(name)
		if name == "b.example" {
			found = append(found, certmagic.Certificate{}) // no leaf: skipped
		}
		return found
	}
	found := Collect([]string{"www.a.example", "b.example", "x.w.example", "a.example", "none.example"}, lookup)
	if lookups != 5 {
		t.Errorf("%d lookups for 5 names", lookups)
	}
	if len(found.Certs) != 4 {
		t.Errorf("%d certificates found, want 4 (a.example under two names, leafless skipped)", len(found.Certs))
	}
	if !slices.Equal(found.Missing, []string{"none.example"}) {
		t.Errorf("missing %v, want [none.example]", found.Missing)
	}
	var first []string
	for _, c := range found.Distinct() {
		first = append(first, c.Names[0])
	}
	if want := []string{"*.w.example", "a.example", "b.example"}; !slices.Equal(first, want) {
		t.Errorf("distinct certificates %v, want %v (deduplicated, sorted)", first, want)
	}
}

// TestCollectParallel checks that the lookups split over several workers
// find what one worker finds.
func TestCollectParallel(t *testing.T) {
	tc := newTestCache(t)
	now := time.Now()
	n := 3*minNamesPerWorker + 7
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("h%05d.example", i)
	}
	for i := 0; i < n; i += 97 {
		tc.add(t, []string{names[i]}, now, time.Hour)
	}
	found := Collect(names, tc.cache.AllMatchingCertificates)
	want := (n + 96) / 97
	if len(found.Certs) != want || len(found.Missing) != n-want {
		t.Errorf("%d found and %d missing; want %d and %d", len(found.Certs), len(found.Missing), want, n-want)
	}
}

func TestServedWithoutConfig(t *testing.T) {
	found, err := Served(caddy.Context{Context: context.Background()})
	if err != nil || len(found.Certs) != 0 || len(found.Missing) != 0 {
		t.Errorf("a context without apps: %+v, %v", found, err)
	}
}

func TestServedFor(t *testing.T) {
	tc := newTestCache(t)
	now := time.Now()
	var facts []*Facts
	for _, c := range []certmagic.Certificate{
		tc.add(t, []string{"*.example.com"}, now.Add(-time.Hour), 90*24*time.Hour),
		tc.add(t, []string{"a.example.com"}, now.Add(-time.Hour), 10*24*time.Hour),
		tc.add(t, []string{"a.example.com"}, now, 20*24*time.Hour),
	} {
		f := NewFacts(&c, Origin{}, NewInterner())
		facts = append(facts, &f)
	}
	for host, want := range map[string]int{
		"a.example.com":   2, // exact beats wildcard; the longer-valid one wins
		"A.Example.COM":   2,
		"b.example.com":   0,
		"*.example.com":   0,
		"example.com":     -1,
		"x.y.example.com": -1,
	} {
		if got := ServedFor(facts, host); got != want {
			t.Errorf("ServedFor(%s) = %d, want %d", host, got, want)
		}
	}
}
