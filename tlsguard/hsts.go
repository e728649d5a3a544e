package tlsguard

import (
	"net/http"
	"strings"
	"time"

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

// findHSTS returns the first HSTS source on the path every request for host
// takes through routes, and whether a source exists only under a narrower
// matcher.
func findHSTS(routes caddyhttp.RouteList, host string) (src *hstsSource, partial bool) {
	for _, route := range routes {
		cov := routeCoverage(route.MatcherSets, host)
		if cov == coverNone {
			continue
		}
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
				var subPartial bool
				found, subPartial = findHSTS(h.Routes, host)
				partial = partial || subPartial
			}
			if found == nil {
				continue
			}
			if cov == coverFull {
				return found, partial
			}
			partial = true
		}
		if route.Terminal && cov == coverFull {
			break
		}
	}
	return nil, partial
}

// stsHeaderValue returns the Strict-Transport-Security value a headers
// handler sets or adds on responses, or "".
func stsHeaderValue(h *headers.Handler) string {
	if h.Response == nil || h.Response.HeaderOps == nil {
		return ""
	}
	const key = "Strict-Transport-Security"
	for _, hdr := range []http.Header{h.Response.Set, h.Response.Add} {
		if v := hdr.Get(key); v != "" {
			return v
		}
	}
	return ""
}
