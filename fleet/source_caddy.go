package fleet

// This file is the only one in package fleet that reads other hardtls
// packages and Caddy's running apps: tlsguard's report, and the served
// certificates and their facts from internal/certs, the enumeration
// tlsguard and pinreport use too (docs/fleet.md, "Where the facts come
// from").

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/tlsguard"
)

// modulePath is hardtls's module path, to find its version in the build.
const modulePath = "github.com/hardtls/caddy-hardtls"

// processStart dates this process: an autosaved config older than it was
// written by an earlier process.
var processStart = time.Now()

// caddySource reads this instance's facts from the running config.
type caddySource struct {
	ctx      caddy.Context
	hostname string
	caddyV   string
	hardtlsV string
	config   configHasher
}

func newCaddySource(ctx caddy.Context) *caddySource {
	host, _ := os.Hostname()
	simple, _ := caddy.Version()
	return &caddySource{ctx: ctx, hostname: host, caddyV: simple, hardtlsV: hardtlsVersion(), config: configHasher{path: caddy.ConfigAutosavePath}}
}

// Facts implements Source.
func (s *caddySource) Facts(context.Context) (Facts, error) {
	f := Facts{Hostname: s.hostname, CaddyVersion: s.caddyV, HardtlsVersion: s.hardtlsV, ConfigHash: s.config.hash()}
	var errs []error

	// Cross-package read 1: tlsguard's report (profile, mode, each site's
	// policy settings, grade and HSTS).
	if app, err := s.ctx.AppIfConfigured("tlsguard"); err == nil {
		if tg, ok := app.(*tlsguard.App); ok {
			rep := tg.Report()
			f.Profile, f.Mode = rep.Profile, rep.Mode
			f.Sites = sitesOf(rep)
		}
	} else if !errors.Is(err, caddy.ErrNotConfigured) {
		errs = append(errs, fmt.Errorf("tlsguard app: %w", err))
	}

	// Cross-package read 2: the names the config serves and the
	// certificates Caddy has for them.
	httpApp, tlsApp, err := certs.Apps(s.ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("reading the http and tls apps: %w", err))
	}
	found, err := certs.Served(s.ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("listing the served certificates: %w", err))
	}
	f.Names = namesOf(certs.Names(httpApp, tlsApp), found.Distinct())
	return f, errors.Join(errs...)
}

// sitesOf turns tlsguard's report into the record's sites.
func sitesOf(rep tlsguard.Report) []Site {
	var out []Site
	seen := map[string]bool{}
	for _, srv := range rep.Servers {
		for _, s := range srv.Sites {
			site := Site{Host: s.Host, HSTS: s.HSTS}
			if seen[site.Host] {
				site.Host += " (" + srv.Name + ")"
			}
			seen[site.Host] = true
			if s.Policy != nil && *s.Policy >= 0 && *s.Policy < len(srv.Policies) {
				p := srv.Policies[*s.Policy]
				site.TLS = "drop"
				if !p.Drop {
					site.TLS = strings.Join(p.Versions, ",") + "|" + strings.Join(p.CipherSuites, ",") + "|" + strings.Join(p.Curves, ",")
				}
			}
			if s.Grade != nil {
				site.Grade = s.Grade.Grade
			}
			out = append(out, site)
		}
	}
	slices.SortFunc(out, func(a, b Site) int { return cmp.Compare(a.Host, b.Host) })
	return out
}

// namesOf returns every name the config serves, and every name on a
// served certificate, with the leaf that serves it, chosen by the same
// rule as tlsguard's (certs.ServedFor). Names with no certificate yet are
// left out.
func namesOf(configNames []string, served []*certmagic.Certificate) []Name {
	facts := make([]*certs.Facts, len(served))
	in := certs.NewInterner()
	names := slices.Clone(configNames)
	for i, c := range served {
		f := certs.NewFacts(c, certs.Origin{}, in)
		facts[i] = &f
		names = append(names, c.Names...)
	}
	for i := range names {
		names[i] = strings.ToLower(names[i])
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var out []Name
	for _, name := range names {
		i := certs.ServedFor(facts, name)
		if i < 0 {
			continue
		}
		f := facts[i]
		out = append(out, Name{Name: name, SHA256: f.SHA256.String(), SPKI: f.SPKI.String(), NotAfter: f.Leaf.NotAfter.UTC()})
	}
	return out
}

// hardtlsVersion returns the version of hardtls in this build: "(devel)"
// when hardtls is the main module, as in cmd/caddy.
func hardtlsVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	if bi.Main.Path == modulePath {
		return bi.Main.Version
	}
	for _, dep := range bi.Deps {
		if dep.Path == modulePath {
			if dep.Replace != nil {
				return dep.Replace.Version
			}
			return dep.Version
		}
	}
	return ""
}

// configHasher hashes the running config. Caddy keeps the config's JSON
// to itself; the one copy a module can read is the autosave file Caddy
// writes after every successful load (unless persist_config is off). An
// autosave older than this process is another process's config, and is
// not used: the hash is then unknown.
type configHasher struct {
	path string

	mu      sync.Mutex
	modTime time.Time
	size    int64
	sum     string
}

func (h *configHasher) hash() string {
	fi, err := os.Stat(h.path)
	// File times come from the kernel's coarse clock, which can read a
	// few milliseconds behind time.Now: allow a second.
	if err != nil || fi.ModTime().Before(processStart.Add(-time.Second)) {
		return ""
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if fi.ModTime().Equal(h.modTime) && fi.Size() == h.size {
		return h.sum
	}
	f, err := os.Open(h.path)
	if err != nil {
		return ""
	}
	defer f.Close()
	d := sha256.New()
	if _, err := io.Copy(d, f); err != nil {
		return ""
	}
	h.modTime, h.size, h.sum = fi.ModTime(), fi.Size(), hex.EncodeToString(d.Sum(nil))
	return h.sum
}

// Interface guards
var _ Source = (*caddySource)(nil)
