// Package certs is hardtls's one view of the certificates a Caddy config
// serves: which certificates of Caddy's cache a config may serve (the
// enumeration), and what is known about each (its facts: SHA-256
// fingerprint, SPKI pin, key, validity, lifetime and who issued it). tlsguard
// and pinreport both read certificates through it, so that they list the
// same certificates and describe each one alike; neither imports the other.
package certs

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/caddyhosts"
)

// Lookup returns the cached certificates that may serve a name; Caddy's is
// caddytls.AllMatchingCertificates.
type Lookup func(name string) []certmagic.Certificate

// NameObserver is implemented by an app that learns served names that
// the config does not spell out, from certificate cache events: on-demand
// certificates and manually loaded ones whose names no site matches.
type NameObserver interface {
	ObservedNames() []string
}

// observerApp is the app whose observed names Served looks up too:
// pinreport, which subscribes to the cache events. It is named here rather
// than imported, so that tlsguard does not depend on pinreport.
const observerApp = "pinreport"

// Found is what the lookups of a list of names found.
type Found struct {
	// Certs holds each certificate found with a parsed leaf, once per
	// name that found it, in no particular order. The pointers share the
	// slices the lookups returned: no copy of the large struct.
	Certs []*certmagic.Certificate
	// Missing holds the names that found no certificate.
	Missing []string
}

// Served looks up every name the config of ctx serves (see Names) in
// Caddy's certificate cache, and the names the config's pinreport app saw
// in cache events, if it has one.
func Served(ctx caddy.Context) (Found, error) {
	httpApp, tlsApp, err := Apps(ctx)
	if err != nil {
		return Found{}, err
	}
	if tlsApp == nil {
		return Found{}, nil // no tls app, no certificates (and maybe no cache)
	}
	names := Names(httpApp, tlsApp)
	if v, err := ctx.AppIfConfigured(observerApp); err == nil {
		if obs, ok := v.(NameObserver); ok {
			names = AppendMissing(names, obs.ObservedNames())
		}
	}
	return Collect(names, caddytls.AllMatchingCertificates), nil
}

// Apps returns the http and tls apps of ctx, either of which may be nil
// when the config has none.
func Apps(ctx caddy.Context) (*caddyhttp.App, *caddytls.TLS, error) {
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

// Names returns the sorted names a config serves certificates for: host
// matchers of the HTTPS servers, default and fallback SNI of their
// connection policies, and the subjects of TLS automation policies.
// Patterns with placeholders are left out.
func Names(httpApp *caddyhttp.App, tlsApp *caddytls.TLS) []string {
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
	slices.Sort(names)
	return slices.Compact(names)
}

// AppendMissing appends to names the elements of more that names does not
// hold.
func AppendMissing(names, more []string) []string {
	if len(names) == 0 {
		return append(names, more...)
	}
	have := make(map[string]struct{}, len(names))
	for _, n := range names {
		have[n] = struct{}{}
	}
	for _, n := range more {
		if _, ok := have[n]; !ok {
			names = append(names, n)
		}
	}
	return names
}

// minNamesPerWorker keeps small lookups on one goroutine.
const minNamesPerWorker = 2048

// Collect looks every name up. The lookups (certmagic takes its lock and
// tries every wildcard form of a name) are most of the work of listing a
// large cache, so they run on all CPUs. Certificates without a parsed leaf
// are skipped.
func Collect(names []string, lookup Lookup) Found {
	workers := min(runtime.GOMAXPROCS(0), len(names)/minNamesPerWorker+1)
	parts := make([]Found, workers)
	var wg sync.WaitGroup
	for w := range workers {
		chunk := names[w*len(names)/workers : (w+1)*len(names)/workers]
		wg.Go(func() {
			part := Found{Certs: make([]*certmagic.Certificate, 0, len(chunk))}
			for _, name := range chunk {
				found := lookup(name)
				if len(found) == 0 {
					part.Missing = append(part.Missing, name)
				}
				for i := range found {
					if found[i].Leaf != nil {
						part.Certs = append(part.Certs, &found[i])
					}
				}
			}
			parts[w] = part
		})
	}
	wg.Wait()
	if workers == 1 {
		return parts[0]
	}
	var all Found
	for _, p := range parts {
		all.Certs = append(all.Certs, p.Certs...)
		all.Missing = append(all.Missing, p.Missing...)
	}
	return all
}

// Distinct returns the certificates found, each once, sorted by first name
// then hash.
func (f Found) Distinct() []*certmagic.Certificate {
	seen := make(map[string]struct{}, len(f.Certs))
	out := make([]*certmagic.Certificate, 0, len(f.Certs))
	for _, c := range f.Certs {
		if _, ok := seen[c.Hash()]; ok {
			continue
		}
		seen[c.Hash()] = struct{}{}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *certmagic.Certificate) int {
		if c := strings.Compare(firstName(a.Names), firstName(b.Names)); c != 0 {
			return c
		}
		return strings.Compare(a.Hash(), b.Hash())
	})
	return out
}

// firstName is the name a certificate is listed under.
func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// ServedFor picks the certificate Caddy serves for a host among certs: a
// certificate naming the host exactly beats a wildcard, and among equals
// the one valid longest wins (a renewal replaces its predecessor). The
// host may itself be a host matcher's wildcard pattern. It returns -1 when
// none matches.
func ServedFor(certs []*Facts, host string) int {
	best, bestExact := -1, false
	host = strings.ToLower(host)
	for i, c := range certs {
		exact, match := false, false
		for _, name := range c.Names {
			name = strings.ToLower(name)
			switch {
			case name == host:
				exact, match = true, true
			case certmagic.MatchWildcard(host, name):
				match = true
			}
		}
		if !match {
			continue
		}
		if best < 0 || (exact && !bestExact) ||
			(exact == bestExact && c.Leaf.NotAfter.After(certs[best].Leaf.NotAfter)) {
			best, bestExact = i, exact
		}
	}
	return best
}
