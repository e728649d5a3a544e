// Package caddyhosts reads the host names a provisioned Caddy config
// serves. It is shared by hstspolicy (the redirect allow-list), pinreport
// (the certificate enumeration) and tlsguard (per-site reports), so that all
// of them agree on what "the sites of this config" means.
package caddyhosts

import (
	"slices"
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// RouteHosts returns the values of the host matchers in routes and in
// their subroutes, in order of appearance. Patterns with placeholders are
// left out, since they are only known when a request arrives.
func RouteHosts(routes caddyhttp.RouteList) []string {
	var out []string
	for _, route := range routes {
		for _, set := range route.MatcherSets {
			for _, m := range set {
				if mh, ok := m.(*caddyhttp.MatchHost); ok {
					out = append(out, slices.DeleteFunc(slices.Clone(*mh), HasPlaceholder)...)
				}
			}
		}
		for _, handler := range route.Handlers {
			if sub, ok := handler.(*caddyhttp.Subroute); ok {
				out = append(out, RouteHosts(sub.Routes)...)
			}
		}
	}
	return out
}

// IsHTTPS reports whether a provisioned server serves TLS. Automatic
// HTTPS gives every server on the HTTPS port a connection policy, so this
// holds once the http app has provisioned.
func IsHTTPS(srv *caddyhttp.Server) bool {
	return len(srv.TLSConnPolicies) > 0
}

// HTTPSHosts returns, per HTTPS server name, the sorted, de-duplicated
// host patterns of its routes.
func HTTPSHosts(app *caddyhttp.App) map[string][]string {
	out := make(map[string][]string)
	for name, srv := range app.Servers {
		if !IsHTTPS(srv) {
			continue
		}
		hosts := RouteHosts(srv.Routes)
		sort.Strings(hosts)
		out[name] = slices.Compact(hosts)
	}
	return out
}

// HasPlaceholder reports whether s holds a Caddy placeholder.
func HasPlaceholder(s string) bool { return strings.ContainsAny(s, "{}") }
