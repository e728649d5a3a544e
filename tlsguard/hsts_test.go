package tlsguard

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/headers"

	"github.com/hardtls/caddy-hardtls/hstspolicy"
)

func testContext(t *testing.T) caddy.Context {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	return ctx
}

func provisionedHSTS(t *testing.T, maxAge int64) *hstspolicy.Handler {
	t.Helper()
	s := hstspolicy.Seconds(maxAge)
	h := &hstspolicy.Handler{MaxAge: &s}
	if err := h.Provision(testContext(t)); err != nil {
		t.Fatal(err)
	}
	return h
}

func hostRoute(hosts []string, handlers ...caddyhttp.MiddlewareHandler) caddyhttp.Route {
	m := caddyhttp.MatchHost(hosts)
	return caddyhttp.Route{MatcherSets: caddyhttp.MatcherSets{{&m}}, Handlers: handlers, Terminal: true}
}

func subroute(routes ...caddyhttp.Route) *caddyhttp.Subroute {
	return &caddyhttp.Subroute{Routes: routes}
}

func TestFindHSTS(t *testing.T) {
	handler := provisionedHSTS(t, 63072000)
	respond := caddyhttp.StaticResponse{}
	path := caddyhttp.MatchPath{"/secure/*"}
	header := &headers.Handler{Response: &headers.RespHeaderOps{HeaderOps: &headers.HeaderOps{
		Set: http.Header{"Strict-Transport-Security": {"max-age=300"}},
	}}}

	routes := caddyhttp.RouteList{
		// The Caddyfile shape: host route, subroute, hsts then respond.
		hostRoute([]string{"a.example"}, subroute(
			caddyhttp.Route{Handlers: []caddyhttp.MiddlewareHandler{handler}},
			caddyhttp.Route{Handlers: []caddyhttp.MiddlewareHandler{&respond}},
		)),
		// hsts only under a path matcher.
		hostRoute([]string{"b.example"}, subroute(
			caddyhttp.Route{MatcherSets: caddyhttp.MatcherSets{{&path}}, Handlers: []caddyhttp.MiddlewareHandler{handler}},
			caddyhttp.Route{Handlers: []caddyhttp.MiddlewareHandler{&respond}},
		)),
		// HSTS from the header directive.
		hostRoute([]string{"c.example"}, subroute(caddyhttp.Route{Handlers: []caddyhttp.MiddlewareHandler{header, &respond}})),
		// No HSTS; terminal, so the catch-all below does not apply.
		hostRoute([]string{"d.example"}, &respond),
		hostRoute([]string{"*.wild.example"}, handler),
		// A catch-all hsts after the host routes.
		{Handlers: []caddyhttp.MiddlewareHandler{handler}},
	}
	for _, tc := range []struct {
		host    string
		kind    string
		partial bool
	}{
		{"a.example", hstsFromHandler, false},
		{"b.example", "", true}, // its host route is terminal: the catch-all never runs
		{"c.example", hstsFromHeader, false},
		{"d.example", "", false},
		{"x.wild.example", hstsFromHandler, false},
		{"*.wild.example", hstsFromHandler, false},
		{"other.example", hstsFromHandler, false},
	} {
		src, partial := findHSTS(routes, tc.host)
		kind := ""
		if src != nil {
			kind = src.kind
		}
		if kind != tc.kind || partial != tc.partial {
			t.Errorf("%s: source %q partial %v, want %q %v", tc.host, kind, partial, tc.kind, tc.partial)
		}
	}

	src, _ := findHSTS(routes, "c.example")
	if got := src.valueAt(time.Now()); got != "max-age=300" {
		t.Errorf("header value %q", got)
	}
	src, _ = findHSTS(routes, "a.example")
	if got := src.valueAt(time.Now()); got != "max-age=63072000; includeSubDomains" {
		t.Errorf("handler value %q", got)
	}
}

func TestRouteCoverage(t *testing.T) {
	host := caddyhttp.MatchHost{"a.example", "*.b.example"}
	path := caddyhttp.MatchPath{"/x"}
	for _, tc := range []struct {
		sets caddyhttp.MatcherSets
		host string
		want coverage
	}{
		{nil, "a.example", coverFull},
		{caddyhttp.MatcherSets{{&host}}, "a.example", coverFull},
		{caddyhttp.MatcherSets{{&host}}, "A.EXAMPLE", coverFull},
		{caddyhttp.MatcherSets{{&host}}, "c.b.example", coverFull},
		{caddyhttp.MatcherSets{{&host}}, "z.example", coverNone},
		{caddyhttp.MatcherSets{{&host, &path}}, "a.example", coverPartial},
		{caddyhttp.MatcherSets{{&path}}, "a.example", coverPartial},
		{caddyhttp.MatcherSets{{&path}, {&host}}, "a.example", coverFull},
	} {
		if got := routeCoverage(tc.sets, tc.host); got != tc.want {
			t.Errorf("routeCoverage(%v, %s) = %d, want %d", tc.sets, tc.host, got, tc.want)
		}
	}
}
