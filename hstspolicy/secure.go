package hstspolicy

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// IsSecure reports whether r reached the client over HTTPS: it arrived over
// TLS, or it came from a proxy in the server's trusted_proxies that says in
// X-Forwarded-Proto that the client used https. Caddy sets the trusted-proxy
// variable only for requests from trusted_proxies, so a client cannot forge
// it; an untrusted X-Forwarded-Proto is ignored.
//
// X-Forwarded-Proto must be a single field line holding exactly "https"
// (any case); a list such as "https, http" is ambiguous and counts as not
// secure, since RFC 6797 section 7.2 forbids STS over non-secure transport.
func IsSecure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return forwardedProto(r) == "https"
}

// forwardedProto returns the lower-cased X-Forwarded-Proto of a request from
// a trusted proxy, or "" when the request is not from one or the header is
// missing or ambiguous.
func forwardedProto(r *http.Request) string {
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); !trusted {
		return ""
	}
	values := r.Header.Values("X-Forwarded-Proto")
	if len(values) != 1 {
		return ""
	}
	switch v := strings.TrimSpace(values[0]); {
	case strings.EqualFold(v, "https"):
		return "https"
	case strings.EqualFold(v, "http"):
		return "http"
	}
	return ""
}
