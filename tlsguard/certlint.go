package tlsguard

import (
	"crypto/ecdsa"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

// CertReport describes one certificate Caddy may serve, in the shape
// every hardtls report gives a certificate (certs.Summary).
type CertReport struct {
	certs.Summary

	// CT is the certificate's SCTs and Chrome's CT policy verdict.
	CT *CTReport `json:"ct"`

	// caps are the grade caps the certificate earns on any site, and
	// lifetimeWarning the grade warning about its lifetime.
	caps            []Cap
	lifetimeWarning string
}

// label names the certificate in findings: its names and the start of
// its SHA-256 fingerprint.
func (cr CertReport) label() string {
	fp := cr.SHA256Fingerprint
	if len(fp) > 16 {
		fp = fp[:16]
	}
	return fmt.Sprintf("[%s] sha256:%s", strings.Join(cr.Names, " "), fp)
}

// lintCertificate checks one served certificate against the profile: key
// type and size, signature algorithm, lifetime, validity at now, whether
// it is self-signed or from Caddy's internal CA on a public name, and its
// SCTs against Chrome's CT policy.
func lintCertificate(p Profile, f *servedCert, now time.Time) (CertReport, Findings) {
	leaf := f.Leaf
	cr := CertReport{Summary: f.Summary(now)}
	cr.Names = slices.Clone(cr.Names)
	lifetimeDays := float64(f.Lifetime()) / float64(day)

	var out Findings
	add := func(sev Severity, code, fix, format string, args ...any) {
		out = append(out, Finding{Severity: sev, Code: code, Certificate: cr.label(), Message: fmt.Sprintf(format, args...), Fix: fix})
	}
	capAt := func(grade, code, format string, args ...any) {
		cr.caps = append(cr.caps, Cap{Grade: grade, Code: code, Reason: fmt.Sprintf(format, args...)})
	}

	switch {
	case cr.KeyType == "rsa" && cr.KeyBits < p.RSAMinBits:
		add(SeverityError, "cert.key.rsa_weak", fmt.Sprintf("issue a certificate with an ECDSA P-256 or RSA %d-bit key", p.RSAMinBits),
			"the RSA key has %d bits, below %d", cr.KeyBits, p.RSAMinBits)
	case !slices.Contains(p.CertKeyTypes, cr.KeyType):
		add(SeverityWarning, "cert.key.type_not_in_profile", "issue an ECDSA P-256 certificate (Caddy's default key type)",
			"the key type %s is not in profile %s (%s)", cr.KeyType, p.Name, strings.Join(p.CertKeyTypes, ", "))
	}
	if cr.KeyType == "ecdsa" {
		if curve := leaf.PublicKey.(*ecdsa.PublicKey).Curve.Params().Name; !slices.Contains(p.CertCurves, curve) {
			add(SeverityWarning, "cert.key.curve_not_in_profile", "issue the certificate with a P-256 or P-384 key",
				"the ECDSA curve %s is not in profile %s (%s)", curve, p.Name, strings.Join(p.CertCurves, ", "))
		}
	}

	switch leaf.SignatureAlgorithm {
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1:
		add(SeverityError, "cert.signature.sha1", "reissue the certificate with a SHA-256 signature",
			"the certificate is signed with SHA-1, which browsers no longer trust")
		capAt(GradeT, "cert.signature.sha1", "the certificate is signed with SHA-1")
	case x509.MD5WithRSA, x509.MD2WithRSA:
		add(SeverityError, "cert.signature.md5", "reissue the certificate with a SHA-256 signature",
			"the certificate is signed with %s, which is broken", leaf.SignatureAlgorithm)
		capAt(GradeF, "cert.signature.md5", "the certificate is signed with %s", leaf.SignatureAlgorithm)
	default:
		if !cr.SelfSigned && !slices.Contains(p.CertSignatures, leaf.SignatureAlgorithm) {
			add(SeverityWarning, "cert.signature.not_in_profile", "have the certificate signed with one of the profile's algorithms",
				"the signature algorithm %s is not in profile %s", leaf.SignatureAlgorithm, p.Name)
		}
	}

	if f.Lifetime() > p.MaxCertLifetime {
		days := int(p.MaxCertLifetime / day)
		add(SeverityWarning, "cert.lifetime.over_profile", fmt.Sprintf("use certificates valid for at most %d days (ACME CAs issue 90 days or less)", days),
			"the certificate is valid for %.0f days, more than profile %s's %d", lifetimeDays, p.Name, days)
		cr.lifetimeWarning = fmt.Sprintf("certificate lifetime of %.0f days exceeds %d days", lifetimeDays, days)
	}

	switch {
	case now.After(leaf.NotAfter):
		add(SeverityError, "cert.expired", "renew or replace the certificate",
			"the certificate expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
		capAt(GradeT, "cert.expired", "the certificate has expired")
	case now.Before(leaf.NotBefore):
		add(SeverityError, "cert.not_yet_valid", "check the server clock, or wait until the certificate is valid",
			"the certificate is not valid until %s", leaf.NotBefore.UTC().Format(time.RFC3339))
		capAt(GradeT, "cert.not_yet_valid", "the certificate is not yet valid")
	}

	public := publicNames(cr.Names)
	if cr.SelfSigned {
		capAt(GradeT, "cert.self_signed", "the certificate is self-signed")
		if len(public) > 0 {
			add(SeverityError, "cert.self_signed.public_name", "let Caddy obtain a certificate from a public CA (remove the manual certificate)",
				"the certificate is self-signed but names public hosts (%s) that no browser will trust it for", strings.Join(public, ", "))
		}
	}
	if f.Kind == certs.KindInternal && !cr.SelfSigned && len(public) > 0 {
		add(SeverityError, "cert.internal_ca.public_name", "remove tls internal (or local_certs) for public names so Caddy uses a public ACME CA",
			"Caddy's internal CA issued the certificate for public hosts (%s); only machines that ran caddy trust accept it", strings.Join(public, ", "))
	}

	var ctFinding *Finding
	cr.CT, ctFinding = lintCT(f)
	if ctFinding != nil {
		ctFinding.Certificate = cr.label()
		out = append(out, *ctFinding)
	}
	return cr, out
}

// siteCaps returns the caps a certificate earns on one site: all of its
// own, plus T when Caddy's internal CA issued it and the site is public
// (the internal CA counts as trusted for local names, where caddy trust
// installs it).
func (cr CertReport) siteCaps(site string) []Cap {
	caps := slices.Clone(cr.caps)
	if cr.IssuerKind == certs.KindInternal.String() && !cr.SelfSigned && !certmagic.SubjectIsInternal(site) {
		caps = append(caps, Cap{Grade: GradeT, Code: "cert.internal_ca.public_name",
			Reason: "Caddy's internal CA issued the certificate for a public name"})
	}
	return caps
}

// publicNames returns the names that are not local: localhost,
// *.localhost, *.local, *.internal, *.home.arpa and private or loopback
// IPs are local (certmagic.SubjectIsInternal, the rule Caddy itself uses
// to pick its internal CA).
func publicNames(names []string) []string {
	var out []string
	for _, n := range names {
		if !certmagic.SubjectIsInternal(n) {
			out = append(out, n)
		}
	}
	return out
}
