package tlsguard

import (
	"context"
	"net/http"
	"strings"
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
		p := findHSTS(routes, tc.host)
		kind := ""
		if p.src != nil {
			kind = p.src.kind
		}
		if kind != tc.kind || p.partial != tc.partial {
			t.Errorf("%s: source %q partial %v, want %q %v", tc.host, kind, p.partial, tc.kind, tc.partial)
		}
	}

	if got := findHSTS(routes, "c.example").src.valueAt(time.Now()); got != "max-age=300" {
		t.Errorf("header value %q", got)
	}
	if got := findHSTS(routes, "a.example").src.valueAt(time.Now()); got != "max-age=63072000; includeSubDomains" {
		t.Errorf("handler value %q", got)
	}
}

// TestHSTSRequirement checks require_hsts's rule on the shapes a site's
// routes can take: what counts as HSTS on every response, and what does
// not, with the reason.
func TestHSTSRequirement(t *testing.T) {
	const minAge = 63072000
	handler := provisionedHSTS(t, 300) // any max-age but 0: ramps start low
	zero := provisionedHSTS(t, 0)
	respond := &caddyhttp.StaticResponse{}
	vars := caddyhttp.VarsMiddleware{}
	path := caddyhttp.MatchPath{"/api/*"}
	stsHeader := func(v string) *headers.Handler {
		return &headers.Handler{Response: &headers.RespHeaderOps{HeaderOps: &headers.HeaderOps{
			Set: http.Header{"Strict-Transport-Security": {v}},
		}}}
	}
	route := func(handlers ...caddyhttp.MiddlewareHandler) caddyhttp.Route {
		return caddyhttp.Route{Handlers: handlers}
	}
	for _, tc := range []struct {
		name   string
		routes caddyhttp.RouteList
		why    string // "" when the site passes
	}{
		{"caddyfile_shape", caddyhttp.RouteList{hostRoute([]string{"a.example"}, subroute(route(handler), route(respond)))}, ""},
		{"pass_through_first", caddyhttp.RouteList{hostRoute([]string{"a.example"}, subroute(route(vars), route(handler), route(respond)))}, ""},
		{"header_two_years", caddyhttp.RouteList{hostRoute([]string{"a.example"}, stsHeader("max-age=63072000; includeSubDomains"), respond)}, ""},
		{"hsts_then_path_route", caddyhttp.RouteList{hostRoute([]string{"a.example"}, subroute(route(handler),
			caddyhttp.Route{MatcherSets: caddyhttp.MatcherSets{{&path}}, Handlers: []caddyhttp.MiddlewareHandler{respond}, Terminal: true}))}, ""},
		{"none", caddyhttp.RouteList{hostRoute([]string{"a.example"}, respond)}, "sends no Strict-Transport-Security header"},
		{"narrower_matcher", caddyhttp.RouteList{hostRoute([]string{"a.example"}, subroute(
			caddyhttp.Route{MatcherSets: caddyhttp.MatcherSets{{&path}}, Handlers: []caddyhttp.MiddlewareHandler{handler}},
			route(respond)))}, "exists only under a narrower matcher"},
		{"path_route_answers_first", caddyhttp.RouteList{hostRoute([]string{"a.example"}, subroute(
			caddyhttp.Route{MatcherSets: caddyhttp.MatcherSets{{&path}}, Handlers: []caddyhttp.MiddlewareHandler{respond}, Terminal: true},
			route(handler), route(respond)))}, "the static_response handler in route 0 > route 0 may answer requests before"},
		{"handler_after_respond", caddyhttp.RouteList{hostRoute([]string{"a.example"}, respond, handler)}, "the static_response handler in route 0"},
		{"short_header", caddyhttp.RouteList{hostRoute([]string{"a.example"}, stsHeader("max-age=300"), respond)}, `sends Strict-Transport-Security "max-age=300", not a valid header with max-age of at least 63072000`},
		{"invalid_header", caddyhttp.RouteList{hostRoute([]string{"a.example"}, stsHeader("max-age=abc"), respond)}, "not a valid header"},
		{"max_age_zero", caddyhttp.RouteList{hostRoute([]string{"a.example"}, zero, respond)}, "max-age=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			why, fix := findHSTS(tc.routes, "a.example").requirement(minAge)
			switch {
			case tc.why == "" && why != "":
				t.Errorf("refused: %s", why)
			case tc.why != "" && !strings.Contains(why, tc.why):
				t.Errorf("reason %q, want %q", why, tc.why)
			case tc.why != "" && fix == "":
				t.Errorf("no fix for %q", why)
			}
		})
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
