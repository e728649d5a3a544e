package pinreport

import (
	"errors"
	"slices"
	"sort"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/caddyhosts"
)

// ServedCertificates returns every certificate in Caddy's certificate cache
// that the config of ctx may serve, de-duplicated by hash and sorted by
// their first name. It is the project's one enumeration of served
// certificates and needs no pinreport app: tlsguard lints what it returns.
//
// The cache has no "list all" call, so the names come from the config (see
// ServedNames) and each is looked up with caddytls.AllMatchingCertificates.
// When the config has a pinreport app, the names it saw in certificate
// cache events are looked up too: they find on-demand certificates and
// manually loaded ones whose names no site matches. Certificates without
// a parsed leaf are skipped.
func ServedCertificates(ctx caddy.Context) ([]certmagic.Certificate, error) {
	httpApp, tlsApp, err := apps(ctx)
	if err != nil {
		return nil, err
	}
	if tlsApp == nil {
		return nil, nil // no tls app, no certificates (and maybe no cache)
	}
	names := ServedNames(httpApp, tlsApp)
	if v, err := ctx.AppIfConfigured("pinreport"); err == nil {
		if app, ok := v.(*App); ok && app.state != nil {
			names = append(names, app.state.observedNames()...)
		}
	}
	return CertificatesFor(names), nil
}

// apps returns the http and tls apps of ctx, either of which may be nil
// when the config has none.
func apps(ctx caddy.Context) (*caddyhttp.App, *caddytls.TLS, error) {
	var httpApp *caddyhttp.App
	var tlsApp *caddytls.TLS
	if app, err := ctx.AppIfConfigured("http"); err == nil {
		httpApp, _ = app.(*caddyhttp.App)
	} else if !errors.Is(err, caddy.ErrNotConfigured) {
		return nil, nil, err
	}
	if app, err := ctx.AppIfConfigured("tls"); err == nil {
		tlsApp, _ = app.(*caddytls.TLS)
	} else if !errors.Is(err, caddy.ErrNotConfigured) {
		return nil, nil, err
	}
	return httpApp, tlsApp, nil
}

// ServedNames returns the sorted names a config serves certificates for:
// host matchers of the HTTPS servers, default and fallback SNI of their
// connection policies, and the subjects of TLS automation policies.
func ServedNames(httpApp *caddyhttp.App, tlsApp *caddytls.TLS) []string {
	var names []string
	if httpApp != nil {
		for _, hosts := range caddyhosts.HTTPSHosts(httpApp) {
			names = append(names, hosts...)
		}
		for _, srv := range httpApp.Servers {
			for _, cp := range srv.TLSConnPolicies {
				names = append(names, cp.DefaultSNI, cp.FallbackSNI)
			}
		}
	}
	if tlsApp != nil && tlsApp.Automation != nil {
		for _, ap := range tlsApp.Automation.Policies {
			names = append(names, ap.Subjects()...)
		}
	}
	names = slices.DeleteFunc(names, func(s string) bool { return s == "" || caddyhosts.HasPlaceholder(s) })
	sort.Strings(names)
	return slices.Compact(names)
}

// CertificatesFor looks every name up in Caddy's certificate cache and
// returns the distinct certificates found, sorted by first name then hash.
func CertificatesFor(names []string) []certmagic.Certificate {
	return sortedCertificates(names, caddytls.AllMatchingCertificates)
}

// sortedCertificates is CertificatesFor with the cache lookup passed in.
func sortedCertificates(names []string, lookup func(string) []certmagic.Certificate) []certmagic.Certificate {
	out, _ := collect(names, lookup)
	sort.Slice(out, func(i, j int) bool {
		ni, nj := firstName(out[i]), firstName(out[j])
		if ni != nj {
			return ni < nj
		}
		return out[i].Hash() < out[j].Hash()
	})
	return out
}

// collect looks names up in the certificate cache; it returns the
// distinct certificates found, in no particular order, and the names
// that found none.
func collect(names []string, lookup func(string) []certmagic.Certificate) (certs []certmagic.Certificate, missing []string) {
	seen := make(map[string]struct{}, len(names))
	for _, name := range names {
		found := lookup(name)
		if len(found) == 0 {
			missing = append(missing, name)
		}
		for _, cert := range found {
			if cert.Leaf == nil {
				continue
			}
			if _, ok := seen[cert.Hash()]; ok {
				continue
			}
			seen[cert.Hash()] = struct{}{}
			certs = append(certs, cert)
		}
	}
	return certs, missing
}

func firstName(c certmagic.Certificate) string {
	if len(c.Names) == 0 {
		return ""
	}
	return c.Names[0]
}
