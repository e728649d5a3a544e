package tlsguard

import (
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/hstspolicy"
	"github.com/hardtls/caddy-hardtls/internal/certs"
)

// An assessment is what tlsguard knows at one moment about the served
// certificates and the sites: certificates are issued and renewed in the
// background, so it is redone on a ticker and for every report.
type assessment struct {
	at       time.Time
	certs    []CertReport
	servers  []ServerReport
	findings Findings // certificate and site findings
	// complete is true when every site has a grade and every name the
	// config serves a certificate.
	complete bool
}

// SiteReport is one site's certificate, HSTS header and grade.
type SiteReport struct {
	Host string `json:"host"`
	// Policy is the index of the connection policy the site's handshakes
	// select; null when none does.
	Policy *int `json:"policy"`
	// Certificate is the SHA-256 fingerprint (lowercase hex of the leaf's
	// DER, as certificates[].sha256_fingerprint) of the certificate Caddy
	// serves for the site; empty until Caddy has one.
	Certificate string `json:"certificate,omitempty"`
	// HSTS is the Strict-Transport-Security value the site sends now and
	// HSTSSource what sends it: the hsts handler or a header directive.
	HSTS       string `json:"hsts,omitempty"`
	HSTSSource string `json:"hsts_source,omitempty"`
	Grade      *Grade `json:"grade,omitempty"`
	// Pending says why there is no grade yet.
	Pending string `json:"pending,omitempty"`
	// Telemetry is the site's share of the server's handshakes; absent
	// with telemetry off.
	Telemetry *SiteTelemetry `json:"telemetry,omitempty"`
}

// assess lints every served certificate and grades every site.
func (a *App) assess() *assessment {
	now := a.now()
	as := &assessment{at: now, complete: true}

	found, err := certs.Served(a.ctx)
	if err != nil {
		as.findings = append(as.findings, Finding{Severity: SeverityWarning, Code: "cert.enumeration_failed",
			Message: fmt.Sprintf("listing the served certificates: %v", err)})
	}
	// A name the config serves that has no certificate yet (being
	// issued, or failing) leaves the startup grades incomplete.
	if len(found.Missing) > 0 {
		as.complete = false
	}
	served := a.facts.of(a.ctx, found.Distinct(), now)
	facts := make([]*certs.Facts, len(served))
	for i, sc := range served {
		facts[i] = sc.Facts
		cr, fs := lintCertificate(a.profile, sc, now)
		as.certs = append(as.certs, cr)
		as.findings = append(as.findings, fs...)
	}

	for _, srv := range a.servers {
		sr := ServerReport{Name: srv.name, Policies: srv.policies}
		for _, s := range srv.sites {
			var cr *CertReport
			if i := certs.ServedFor(facts, s.host); i >= 0 {
				cr = &as.certs[i]
			}
			rep, fs := a.assessSite(srv, s, cr, now)
			if rep.Grade == nil {
				as.complete = false
			}
			sr.Sites = append(sr.Sites, rep)
			as.findings = append(as.findings, fs...)
		}
		as.servers = append(as.servers, sr)
	}
	a.last.Store(as)
	return as
}

// factCache keeps what tlsguard knows of the served certificates. It is
// computed once per certificate (classifying one may read storage,
// checking its trust verifies its chain) and kept while the certificate is
// served. Assessments run on the ticker and for every report, so it is
// safe for concurrent use.
type factCache struct {
	mu     sync.Mutex
	certs  map[string]*servedCert // by certmagic hash
	intern *certs.Interner
	roots  *x509.CertPool // this machine's root store; nil when it has none
}

func newFactCache(roots *x509.CertPool) *factCache {
	return &factCache{intern: certs.NewInterner(), roots: roots}
}

// of returns the served certificates, in order, and forgets those no
// longer served.
func (fc *factCache) of(ctx caddy.Context, served []*certmagic.Certificate, now time.Time) []*servedCert {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	var cl *certs.Classifier
	next := make(map[string]*servedCert, len(served))
	out := make([]*servedCert, 0, len(served))
	for _, c := range served {
		sc, ok := fc.certs[c.Hash()]
		if !ok {
			if cl == nil {
				// A certificate was found, so the config has a tls app
				// and with it a storage.
				cl = certs.NewClassifier(ctx, ctx.Storage())
			}
			facts := certs.NewFacts(c, cl.Origin(c), fc.intern)
			sc = newServedCert(c, &facts, fc.roots, now)
		}
		next[c.Hash()] = sc
		out = append(out, sc)
	}
	fc.certs = next
	return out
}

// assessSite grades one site with its policy, certificate and HSTS header.
// cr is the certificate Caddy serves for the site, nil when it has none.
func (a *App) assessSite(srv *server, s site, cr *CertReport, now time.Time) (SiteReport, Findings) {
	rep := SiteReport{Host: s.host}
	var fs Findings
	add := func(sev Severity, code, fix, format string, args ...any) {
		fs = append(fs, Finding{Severity: sev, Code: code, Server: srv.name, Site: s.host, Message: fmt.Sprintf(format, args...), Fix: fix})
	}

	src := s.hsts.src
	value, hdr, issues := hstsOf(src, now)
	if src != nil {
		rep.HSTS, rep.HSTSSource = value, src.kind
	}
	// With require_hsts, the config's site.hsts.required finding says it.
	if why, fix := s.hsts.gap(); why != "" && !a.RequireHSTS {
		add(SeverityWarning, "site.hsts.missing", fix, "%s", why)
	}
	if src != nil && src.kind == hstsFromHeader {
		add(SeverityWarning, "site.hsts.no_handler", "replace the header directive with the hsts directive",
			"HSTS comes from a header directive, which a proxied response can duplicate and which is not checked; the hsts handler sends exactly one valid header")
	}
	if hdr != nil && hdr.MaxAge != nil && *hdr.MaxAge < a.profile.HSTSMinAge {
		add(SeverityInfo, "site.hsts.below_profile", fmt.Sprintf("raise max_age to %d once HTTPS works everywhere", a.profile.HSTSMinAge),
			"HSTS max-age=%d is below profile %s's %d", *hdr.MaxAge, a.profile.Name, a.profile.HSTSMinAge)
	}

	if s.policy < 0 {
		rep.Pending = "no TLS connection policy selects this site: " + s.policyErr
		add(SeverityWarning, "site.policy.none", "add a connection policy whose matchers select this site",
			"no TLS connection policy selects the site: %s", s.policyErr)
		return rep, fs
	}
	rep.Policy = intPtr(s.policy)
	settings := srv.settings[s.policy]
	if settings.Drop {
		rep.Pending = "the site's connection policy drops every connection"
		return rep, fs
	}
	if cr == nil {
		rep.Pending = "Caddy has no certificate for this site yet"
		return rep, fs
	}
	rep.Certificate = cr.SHA256Fingerprint

	in := GradeInput{
		Versions:   versionsBetween(settings.MinVersion, settings.MaxVersion),
		Suites:     settings.offeredSuites(),
		Curves:     settings.Curves,
		KeyType:    cr.KeyType,
		KeyBits:    cr.KeyBits,
		HSTS:       hdr,
		HSTSIssues: issues,
		CertCaps:   cr.siteCaps(s.host),
	}
	if cr.lifetimeWarning != "" {
		in.Warnings = append(in.Warnings, cr.lifetimeWarning)
	}
	if settings.SecretsLog {
		in.Warnings = append(in.Warnings, "session keys are written to a file (insecure_secrets_log)")
	}
	g := Rate(in)
	rep.Grade = &g
	return rep, fs
}

// hstsOf returns the header a source sends now, parsed.
func hstsOf(src *hstsSource, now time.Time) (string, *hstspolicy.Header, hstspolicy.Issues) {
	if src == nil {
		return "", nil, nil
	}
	v := src.valueAt(now)
	h, issues := hstspolicy.ParseHeader(v)
	return v, &h, issues
}
