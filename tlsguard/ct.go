package tlsguard

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/internal/sct"
)

// Certificate Transparency. Chrome refuses a publicly trusted certificate
// that lacks SCTs from enough logs (its CT policy; internal/sct counts
// them). tlsguard reads the SCTs of every served certificate, embedded and
// delivered in the TLS extension, reports them, and lints the certificates
// that Chrome's policy covers: those that chain to a public root.

// Trust says whether Chrome's CT policy covers a certificate: only
// certificates that chain to a publicly trusted root need SCTs.
type Trust string

// Trust kinds.
const (
	// TrustPublic: the chain verifies against this machine's root store.
	TrustPublic Trust = "public"
	// TrustInternal: Caddy's own CA issued it (tls internal).
	TrustInternal Trust = "internal"
	// TrustSelfSigned: the certificate signed itself.
	TrustSelfSigned Trust = "self_signed"
	// TrustPrivate: the chain does not verify against this machine's
	// root store: a private or corporate CA.
	TrustPrivate Trust = "private"
	// TrustUnknown: this machine has no root store to tell; the policy
	// is applied, since a public certificate without SCTs is the failure
	// that matters.
	TrustUnknown Trust = "unknown"
)

// exempt reports whether Chrome's CT policy leaves certificates of this
// trust alone.
func (t Trust) exempt() bool { return t != TrustPublic && t != TrustUnknown }

// CTReport is what one certificate's SCTs say (count per source, each
// SCT's log ID and timestamp, problems reading them) and Chrome's CT
// policy verdict on it.
type CTReport struct {
	sct.Report
	// Trust is whether the policy covers the certificate: public and
	// unknown ones are checked; internal, self-signed and private ones are
	// exempt.
	Trust  Trust       `json:"trust"`
	Policy sct.Verdict `json:"chrome_policy"`
}

// servedCert is a served certificate as tlsguard lints it: the facts every
// hardtls module shares, and its SCTs and trust, computed once.
type servedCert struct {
	*certs.Facts
	scts  sct.Report
	trust Trust
}

// newServedCert computes what tlsguard needs of a cached certificate;
// roots is this machine's root store (nil when it has none), now the time
// the chain is verified at when the leaf is valid then.
func newServedCert(c *certmagic.Certificate, f *certs.Facts, roots *x509.CertPool, now time.Time) *servedCert {
	return &servedCert{
		Facts: f,
		scts:  sct.Inspect(f.Leaf, c.Certificate.SignedCertificateTimestamps),
		trust: trustOf(f, c.Certificate.Certificate, roots, now),
	}
}

// trustOf classifies a certificate's issuer. chain is the served chain in
// DER, leaf first.
func trustOf(f *certs.Facts, chain [][]byte, roots *x509.CertPool, now time.Time) Trust {
	switch {
	case f.Kind == certs.KindInternal:
		return TrustInternal
	case f.SelfSigned:
		return TrustSelfSigned
	case roots == nil:
		return TrustUnknown
	}
	inter := x509.NewCertPool()
	for _, der := range chain[min(1, len(chain)):] {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	// Trust is about the issuer, not the validity period (expiry has its
	// own finding): verify at a time the leaf is valid.
	at := now
	if at.Before(f.Leaf.NotBefore) {
		at = f.Leaf.NotBefore
	}
	if at.After(f.Leaf.NotAfter) {
		at = f.Leaf.NotAfter
	}
	_, err := f.Leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return TrustPrivate
	}
	return TrustPublic
}

// systemRoots returns this machine's root store, or nil when it has none
// (a container without ca-certificates).
func systemRoots() *x509.CertPool {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil || pool.Equal(x509.NewCertPool()) {
		return nil
	}
	return pool
}

// lintCT reports the certificate's SCTs and checks them against Chrome's
// CT policy: a certificate the policy covers with too few SCTs is an error
// (Chrome refuses it), or a warning when this machine cannot tell whether
// the certificate is publicly trusted.
func lintCT(sc *servedCert) (*CTReport, *Finding) {
	v := sct.ChromePolicy(sc.Leaf, sc.scts, sc.trust.exempt())
	switch sc.trust {
	case TrustSelfSigned:
		v.Message = "self-signed: Chrome's CT policy covers only publicly trusted certificates"
	case TrustPrivate:
		v.Message = "does not chain to this machine's root store (a private CA): Chrome's CT policy covers only publicly trusted certificates"
	}
	rep := &CTReport{Report: sc.scts, Trust: sc.trust, Policy: v}
	if v.Compliant {
		return rep, nil
	}
	f := &Finding{Severity: SeverityError, Code: v.Code, Message: v.Message, Fix: v.Fix}
	if sc.trust == TrustUnknown {
		f.Severity = SeverityWarning
		f.Message += fmt.Sprintf(" (this machine has no root store, so tlsguard cannot tell whether %s is publicly trusted)", sc.Issuer)
	}
	return rep, f
}
