package hstspolicy

import (
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// matchHosts is a matcher set list with one host matcher.
func matchHosts(names ...string) caddyhttp.MatcherSets {
	mh := caddyhttp.MatchHost(names)
	return caddyhttp.MatcherSets{{&mh}}
}

// siteApp is an http app whose HTTPS server runs h on the given hosts, in
// a subroute as a Caddyfile site does, and whose plain-HTTP server runs
// it too.
func siteApp(h *Handler, hosts ...string) *caddyhttp.App {
	sub := &caddyhttp.Subroute{Routes: caddyhttp.RouteList{{Handlers: []caddyhttp.MiddlewareHandler{h}}}}
	return &caddyhttp.App{Servers: map[string]*caddyhttp.Server{
		"https": {
			TLSConnPolicies: caddytls.ConnectionPolicies{new(caddytls.ConnectionPolicy)},
			Routes: caddyhttp.RouteList{
				{MatcherSets: matchHosts("other.example"), Handlers: []caddyhttp.MiddlewareHandler{new(Handler)}},
				{MatcherSets: matchHosts(hosts...), Handlers: []caddyhttp.MiddlewareHandler{sub}},
			},
		},
		"http": {Routes: caddyhttp.RouteList{{MatcherSets: matchHosts("plain.example"), Handlers: []caddyhttp.MiddlewareHandler{h}}}},
	}}
}

func TestSiteHosts(t *testing.T) {
	h := new(Handler)
	got := siteHosts(siteApp(h, "b.example", "a.example"), h)
	if len(got) != 2 || got[0] != "a.example" || got[1] != "b.example" {
		t.Errorf("siteHosts = %q, want [a.example b.example] (not other.example, not the plain-HTTP site)", got)
	}
	if got := siteHosts(siteApp(new(Handler), "a.example"), h); len(got) != 0 {
		t.Errorf("a handler found in an app that does not run it: %q", got)
	}
}

// TestPreloadRemovalLogged loads three configs in turn on the same hosts:
// preload, then no preload (the removal is logged), then no preload again
// (nothing new to say).
func TestPreloadRemovalLogged(t *testing.T) {
	year := Seconds(OneYear)
	load := func(preload bool) (*Handler, *observer.ObservedLogs) {
		h := provisioned(t, &Handler{MaxAge: &year, Preload: preload})
		core, logs := observer.New(zapcore.WarnLevel)
		h.logger = zap.New(core)
		h.app = siteApp(h, "removal.example", "www.removal.example")
		return h, logs
	}
	h1, logs1 := load(true)
	h1.notePreload()
	if logs1.Len() != 0 {
		t.Fatalf("logged for a config that keeps preload: %v", logs1.All())
	}
	h2, logs2 := load(false)
	h2.notePreload()
	entries := logs2.FilterMessage("hsts preload removal").All()
	if len(entries) != 1 {
		t.Fatalf("want one removal line, got %v", logs2.All())
	}
	fields := entries[0].ContextMap()
	if fields["header"] != "max-age=31536000; includeSubDomains" {
		t.Errorf("header = %v", fields["header"])
	}
	if hosts, _ := fields["hosts"].([]any); len(hosts) != 2 {
		t.Errorf("hosts = %v", fields["hosts"])
	}
	if fix, _ := fields["fix"].(string); fix == "" {
		t.Error("no fix")
	}
	h3, logs3 := load(false)
	h3.notePreload()
	if logs3.Len() != 0 {
		t.Errorf("logged again for a host that already left: %v", logs3.All())
	}

	zero := Seconds(0)
	h4 := provisioned(t, &Handler{MaxAge: &zero})
	core, logs4 := observer.New(zapcore.WarnLevel)
	h4.logger = zap.New(core)
	h4.app = siteApp(h4, "zero.example")
	h4.notePreload()
	if logs4.FilterMessage("hsts preload removal").Len() != 1 {
		t.Errorf("max_age 0 without a preload history: want the removal guidance, got %v", logs4.All())
	}
}

func TestPreloadHistorySameConfig(t *testing.T) {
	ph := &preloadHistory{hosts: map[string]preloadMark{}}
	cfgA, cfgB := new(int), new(int)
	ph.record("a.example", cfgA, true)
	if ph.record("a.example", cfgA, false) {
		t.Error("two handlers of one config count as a removal")
	}
	if !ph.record("a.example", cfgB, false) {
		t.Error("a later config without preload is no removal")
	}
}
