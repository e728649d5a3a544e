package tlsguard

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/headers"
	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/hstspolicy"
)

// HSTS sources a site's routes can have.
const (
	hstsFromHandler = "hsts"
	hstsFromHeader  = "header"
)

// hstsSource is where a site's Strict-Transport-Security header comes
// from: the hsts handler, or a headers handler that sets the field.
type hstsSource struct {
	kind    string
	handler *hstspolicy.Handler
	value   string
}

// valueAt returns the header value the source sends at t.
func (s hstsSource) valueAt(t time.Time) string {
	if s.handler != nil {
		return s.handler.HeaderValue(t)
	}
	return s.value
}

// coverage says whether a route's matchers let every request for a host
// through (full), only some (partial: a path or other matcher), or none.
type coverage int

const (
	coverNone coverage = iota
	coverPartial
	coverFull
)

// routeCoverage evaluates a route's matcher sets for host. A set made only
// of host matchers that include host covers it fully; a set with other
// matchers covers part of its requests at most.
func routeCoverage(sets caddyhttp.MatcherSets, host string) coverage {
	if len(sets) == 0 {
		return coverFull
	}
	best := coverNone
	for _, set := range sets {
		hostOK, hasHost, other := false, false, false
		for _, m := range set {
			mh, ok := m.(*caddyhttp.MatchHost)
			if !ok {
				other = true
				continue
			}
			hasHost = true
			for _, pattern := range *mh {
				if hostMatches(pattern, host) {
					hostOK = true
				}
			}
		}
		switch {
		case hasHost && !hostOK:
		case other:
			best = max(best, coverPartial)
		default:
			best = coverFull
		}
	}
	return best
}

// hostMatches reports whether a host matcher pattern covers the site
// host, which is itself a pattern from a host matcher.
func hostMatches(pattern, host string) bool {
	return strings.EqualFold(pattern, host) || certmagic.MatchWildcard(strings.ToLower(host), strings.ToLower(pattern))
}

// hstsPath is what the routes of a site do about HSTS.
type hstsPath struct {
	// src is the first HSTS source on the path every request for the
	// host takes; nil when there is none.
	src *hstsSource
	// partial is true when a source exists only under a narrower matcher
	// than the site's.
	partial bool
	// bypass names a handler that may answer some of the site's requests
	// before any HSTS source has run ("" when none does).
	bypass string
}

// gap says why some responses of the site carry no
// Strict-Transport-Security header, with the fix; "" when every response
// does.
func (p hstsPath) gap() (why, fix string) {
	const add = "add the hsts directive to the site block (it sends max-age=63072000; includeSubDomains)"
	switch {
	case p.src == nil && p.partial:
		return "the HTTPS site sends no Strict-Transport-Security header on every response (an HSTS source exists only under a narrower matcher)", add
	case p.src == nil:
		return "the HTTPS site sends no Strict-Transport-Security header", add
	case p.bypass != "":
		return p.bypass + " may answer requests before the site's HSTS source runs, so those responses carry no Strict-Transport-Security header",
			"put the hsts directive before that handler (in a route block: first), or move the handler after it"
	}
	return "", ""
}

// requirement checks the site against require_hsts: every response
// carries HSTS from the hsts handler, or from a header directive whose
// max-age is at least minAge (the profile's hsts_min_age). It says why
// the site falls short, with the fix, or returns "".
func (p hstsPath) requirement(minAge int64) (why, fix string) {
	if why, fix := p.gap(); why != "" {
		return why, fix
	}
	switch p.src.kind {
	case hstsFromHandler:
		if ma := p.src.handler.MaxAge; ma != nil && *ma == 0 {
			return "the hsts handler sends max-age=0, which tells browsers to forget HSTS (RFC 6797 section 6.1.1)",
				"remove max_age 0 from the hsts directive (the default is 63072000), or turn require_hsts off while the site leaves HSTS"
		}
	case hstsFromHeader:
		h, issues := hstspolicy.ParseHeader(p.src.value)
		if len(issues.Errors()) > 0 || h.MaxAge == nil || *h.MaxAge < minAge {
			return fmt.Sprintf("the header directive sends Strict-Transport-Security %q, not a valid header with max-age of at least %d", p.src.value, minAge),
				fmt.Sprintf("replace the header directive with the hsts directive, or raise its max-age to %d", minAge)
		}
	}
	return "", ""
}

// passThrough lists, by module ID, the handlers that hand every request on
// to the next one: they may change the request or the response but never
// answer it themselves, so an HSTS source after them still runs.
var passThrough = map[string]bool{
	"http.handlers.headers":      true,
	"http.handlers.vars":         true,
	"http.handlers.rewrite":      true,
	"http.handlers.encode":       true,
	"http.handlers.map":          true,
	"http.handlers.request_body": true,
	"http.handlers.tracing":      true,
	"http.handlers.log_append":   true,
	"http.handlers.templates":    true,
	"http.handlers.push":         true,
}

// findHSTS walks the routes every request for host takes, in order, and
// returns the first HSTS source on that path, whether a source exists only
// under a narrower matcher, and the first handler that may answer a request
// before any source runs.
func findHSTS(routes caddyhttp.RouteList, host string) hstsPath {
	return walkHSTS(routes, host, "route ")
}

// walkHSTS is findHSTS for routes named at in messages ("route 1 > route
// 0 > route " for the routes of a subroute).
func walkHSTS(routes caddyhttp.RouteList, host, at string) hstsPath {
	var p hstsPath
	for i, route := range routes {
		cov := routeCoverage(route.MatcherSets, host)
		if cov == coverNone {
			continue
		}
		where := at + strconv.Itoa(i)
		covered := false // a source earlier in this route runs for its requests
		for _, h := range route.Handlers {
			var found *hstsSource
			switch h := h.(type) {
			case *hstspolicy.Handler:
				found = &hstsSource{kind: hstsFromHandler, handler: h}
			case *headers.Handler:
				if v := stsHeaderValue(h); v != "" {
					found = &hstsSource{kind: hstsFromHeader, value: v}
				}
			case *caddyhttp.Subroute:
				sub := walkHSTS(h.Routes, host, where+" > route ")
				p.partial = p.partial || sub.partial
				if !covered && p.bypass == "" {
					p.bypass = sub.bypass
				}
				found = sub.src
			default:
				if !covered && p.bypass == "" && !passesThrough(h) {
					p.bypass = fmt.Sprintf("the %s handler in %s", handlerName(h), where)
				}
			}
			if found == nil {
				continue
			}
			if cov == coverFull {
				p.src = found
				return p
			}
			p.partial, covered = true, true
		}
		if route.Terminal && cov == coverFull {
			break
		}
	}
	return p
}

// passesThrough reports whether a handler always calls the next one.
func passesThrough(h caddyhttp.MiddlewareHandler) bool {
	m, ok := h.(caddy.Module)
	return ok && passThrough[string(m.CaddyModule().ID)]
}

// handlerName is a handler's name as in the JSON config ("static_response").
func handlerName(h caddyhttp.MiddlewareHandler) string {
	if m, ok := h.(caddy.Module); ok {
		return m.CaddyModule().ID.Name()
	}
	return fmt.Sprintf("%T", h)
}

// stsHeaderValue returns the Strict-Transport-Security value a headers
// handler sets or adds on every response, or "".
func stsHeaderValue(h *headers.Handler) string {
	if h.Response == nil || h.Response.HeaderOps == nil || h.Response.Require != nil {
		return "" // a header only on some responses does not count
	}
	const key = "Strict-Transport-Security"
	for _, hdr := range []http.Header{h.Response.Set, h.Response.Add} {
		if v := hdr.Get(key); v != "" {
			return v
		}
	}
	return ""
}
