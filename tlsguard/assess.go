package tlsguard

import (
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddypki"
	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/hstspolicy"
	"github.com/hardtls/caddy-hardtls/pinreport"
)

// An assessment is what tlsguard knows at one moment about the served
// certificates and the sites: certificates are issued and renewed in the
// background, so it is redone on a ticker and for every report.
type assessment struct {
	at       time.Time
	certs    []CertReport
	servers  []ServerReport
	findings Findings // certificate and site findings
	// complete is true when every site has a certificate to grade.
	complete bool
}

// SiteReport is one site's certificate, HSTS header and grade.
type SiteReport struct {
	Host string `json:"host"`
	// Policy is the index of the connection policy the site's handshakes
	// select; null when none does.
	Policy *int `json:"policy"`
	// Certificate is the SHA-256 hash of the certificate Caddy serves for
	// the site; empty until Caddy has one.
	Certificate string `json:"certificate,omitempty"`
	// HSTS is the Strict-Transport-Security value the site sends now and
	// HSTSSource what sends it: the hsts handler or a header directive.
	HSTS       string `json:"hsts,omitempty"`
	HSTSSource string `json:"hsts_source,omitempty"`
	Grade      *Grade `json:"grade,omitempty"`
	// Pending says why there is no grade yet.
	Pending string `json:"pending,omitempty"`
}

// assess lints every served certificate and grades every site.
func (a *App) assess() *assessment {
	now := a.now()
	as := &assessment{at: now, complete: true}

	served, err := pinreport.ServedCertificates(a.ctx)
	if err != nil {
		as.findings = append(as.findings, Finding{Severity: SeverityWarning, Code: "cert.enumeration_failed",
			Message: fmt.Sprintf("listing the served certificates: %v", err)})
	}
	internal := internalChecker(a.ctx)
	for _, cert := range served {
		cr, fs := lintCertificate(a.profile, cert, internal, now)
		as.certs = append(as.certs, cr)
		as.findings = append(as.findings, fs...)
	}

	for _, srv := range a.servers {
		sr := ServerReport{Name: srv.name, Policies: srv.policies}
		for _, s := range srv.sites {
			rep, fs := a.assessSite(srv, s, served, as.certs, now)
			if rep.Grade == nil {
				as.complete = false
			}
			sr.Sites = append(sr.Sites, rep)
			as.findings = append(as.findings, fs...)
		}
		as.servers = append(as.servers, sr)
	}
	a.mu.Lock()
	a.last = as
	a.mu.Unlock()
	return as
}

// assessSite grades one site with its policy, certificate and HSTS header.
func (a *App) assessSite(srv *server, s site, served []certmagic.Certificate, certs []CertReport, now time.Time) (SiteReport, Findings) {
	rep := SiteReport{Host: s.host}
	var fs Findings
	add := func(sev Severity, code, fix, format string, args ...any) {
		fs = append(fs, Finding{Severity: sev, Code: code, Server: srv.name, Site: s.host, Message: fmt.Sprintf(format, args...), Fix: fix})
	}

	value, hdr, issues := hstsOf(s.hsts, now)
	switch {
	case s.hsts == nil:
		note := ""
		if s.hstsPartial {
			note = " on every response (an hsts handler exists only under a narrower matcher)"
		}
		add(SeverityWarning, "site.hsts.missing", "add the hsts directive to the site block (it sends max-age=63072000; includeSubDomains)",
			"the HTTPS site sends no Strict-Transport-Security header%s", note)
	case s.hsts.kind == hstsFromHeader:
		rep.HSTS, rep.HSTSSource = value, s.hsts.kind
		add(SeverityWarning, "site.hsts.no_handler", "replace the header directive with the hsts directive",
			"HSTS comes from a header directive, which a proxied response can duplicate and which is not checked; the hsts handler sends exactly one valid header")
	default:
		rep.HSTS, rep.HSTSSource = value, s.hsts.kind
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
	ci := certificateFor(served, s.host)
	if ci < 0 {
		rep.Pending = "Caddy has no certificate for this site yet"
		return rep, fs
	}
	cr := certs[ci]
	rep.Certificate = cr.Hash

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

// internalChecker returns a function that tells whether Caddy's internal
// CA issued a certificate, from the CAs of the config's pki app.
func internalChecker(ctx caddy.Context) issuedByInternal {
	var cas, roots []*x509.Certificate
	if app, err := ctx.AppIfConfigured("pki"); err == nil {
		if pki, ok := app.(*caddypki.PKI); ok {
			for _, ca := range pki.CAs {
				if root := ca.RootCertificate(); root != nil {
					roots = append(roots, root)
					cas = append(cas, root)
				}
				cas = append(cas, ca.IntermediateCertificateChain()...)
			}
		}
	}
	return internalCheckerFrom(cas, roots)
}

// internalCheckerFrom tells whether a leaf was issued by one of cas, or
// came with a chain certificate signed by one of roots (intermediates
// rotate, so the leaf may predate the current one). With no CA known (no
// pki app loaded), the issuer name of Caddy's local CA decides.
func internalCheckerFrom(cas, roots []*x509.Certificate) issuedByInternal {
	return func(leaf *x509.Certificate, chain [][]byte) bool {
		for _, ca := range cas {
			if leaf.CheckSignatureFrom(ca) == nil {
				return true
			}
		}
		for _, der := range chain[min(1, len(chain)):] {
			ic, err := x509.ParseCertificate(der)
			if err != nil {
				continue
			}
			for _, root := range roots {
				if ic.CheckSignatureFrom(root) == nil {
					return true
				}
			}
		}
		return len(cas) == 0 && strings.HasPrefix(leaf.Issuer.CommonName, "Caddy Local Authority")
	}
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
