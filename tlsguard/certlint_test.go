package tlsguard

import (
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"slices"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

// testCert describes a certificate to generate.
type testCert struct {
	names     []string
	rsaBits   int            // RSA key of this size; ECDSA P-256 when 0
	curve     elliptic.Curve // ECDSA curve when rsaBits is 0
	sig       x509.SignatureAlgorithm
	notBefore time.Time
	lifetime  time.Duration
	issuer    *testCA // self-signed when nil
}

// testCA is a CA that signs test certificates.
type testCA = testpki.CA

func newTestCA(t testing.TB, cn string) *testCA {
	t.Helper()
	return testpki.NewCA(t, cn, nil)
}

// servedOf computes what tlsguard knows of a certificate with the given
// origin, with a root store that holds none of the tests' CAs (their
// certificates are private, exempt from the CT policy).
func servedOf(cert *certmagic.Certificate, o certs.Origin) *servedCert {
	return servedWithRoots(cert, o, x509.NewCertPool())
}

// servedWithRoots is servedOf with the given root store (nil: none).
func servedWithRoots(cert *certmagic.Certificate, o certs.Origin, roots *x509.CertPool) *servedCert {
	f := certs.NewFacts(cert, o, certs.NewInterner())
	return newServedCert(cert, &f, roots, time.Now())
}

// generate returns the certificate as Caddy's cache holds it.
func (tc testCert) generate(t testing.TB) certmagic.Certificate {
	t.Helper()
	l := testpki.Leaf{Names: tc.names, Sig: tc.sig, NotBefore: tc.notBefore, Lifetime: tc.lifetime}
	switch {
	case tc.rsaBits > 0:
		l.Key = testpki.RSAKey(t, tc.rsaBits)
	case tc.curve != nil:
		l.Key = testpki.ECDSAKey(t, tc.curve)
	}
	var c tls.Certificate
	if tc.issuer != nil {
		c = tc.issuer.Issue(t, l)
	} else {
		c = testpki.SelfSigned(t, l)
	}
	return certmagic.Certificate{Certificate: c, Names: tc.names}
}

func TestLintCertificate(t *testing.T) {
	ca := newTestCA(t, "Test CA")
	local := newTestCA(t, "Caddy Local Authority - ECC Intermediate")
	now := time.Now()

	for _, tc := range []struct {
		name     string
		profile  Profile
		cert     testCert
		mutate   func(*x509.Certificate)
		findings []string
		caps     []string
		warning  bool
	}{
		{name: "good ecdsa", profile: intermediateProfile(), cert: testCert{names: []string{"example.com"}, issuer: ca}},
		{name: "good rsa 2048", profile: intermediateProfile(), cert: testCert{names: []string{"example.com"}, rsaBits: 2048, issuer: ca}},
		{name: "weak rsa", profile: intermediateProfile(), cert: testCert{names: []string{"example.com"}, rsaBits: 1024, issuer: ca},
			findings: []string{"cert.key.rsa_weak"}},
		{name: "rsa under modern", profile: modernProfile(), cert: testCert{names: []string{"example.com"}, rsaBits: 2048, issuer: ca},
			findings: []string{"cert.key.type_not_in_profile"}},
		{name: "p521", profile: intermediateProfile(), cert: testCert{names: []string{"example.com"}, curve: elliptic.P521(), issuer: ca},
			findings: []string{"cert.key.curve_not_in_profile"}},
		{name: "sha1", profile: intermediateProfile(), cert: testCert{names: []string{"example.com"}, rsaBits: 2048, sig: x509.SHA1WithRSA, issuer: caRSA(t)},
			findings: []string{"cert.signature.sha1"}, caps: []string{"cert.signature.sha1"}},
		{name: "md5", profile: intermediateProfile(), cert: testCert{names: []string{"example.com"}, rsaBits: 2048, issuer: ca},
			mutate:   func(c *x509.Certificate) { c.SignatureAlgorithm = x509.MD5WithRSA },
			findings: []string{"cert.signature.md5"}, caps: []string{"cert.signature.md5"}},
		{name: "400 days", profile: intermediateProfile(), cert: testCert{names: []string{"example.com"}, lifetime: 400 * day, issuer: ca},
			findings: []string{"cert.lifetime.over_profile"}, warning: true},
		{name: "366 days is fine", profile: intermediateProfile(), cert: testCert{names: []string{"example.com"}, lifetime: 366 * day, issuer: ca}},
		{name: "100 days under modern", profile: modernProfile(), cert: testCert{names: []string{"example.com"}, lifetime: 100 * day, issuer: ca},
			findings: []string{"cert.lifetime.over_profile"}, warning: true},
		{name: "expired", profile: intermediateProfile(), cert: testCert{names: []string{"example.com"}, notBefore: now.Add(-48 * time.Hour), lifetime: 24 * time.Hour, issuer: ca},
			findings: []string{"cert.expired"}, caps: []string{"cert.expired"}},
		{name: "not yet valid", profile: intermediateProfile(), cert: testCert{names: []string{"example.com"}, notBefore: now.Add(time.Hour), issuer: ca},
			findings: []string{"cert.not_yet_valid"}, caps: []string{"cert.not_yet_valid"}},
		{name: "self-signed public", profile: intermediateProfile(), cert: testCert{names: []string{"example.com", "localhost"}},
			findings: []string{"cert.self_signed.public_name"}, caps: []string{"cert.self_signed"}},
		{name: "self-signed local", profile: intermediateProfile(), cert: testCert{names: []string{"localhost", "app.internal", "10.1.2.3"}},
			caps: []string{"cert.self_signed"}},
		{name: "internal ca public", profile: intermediateProfile(), cert: testCert{names: []string{"shop.example.com"}, issuer: local},
			findings: []string{"cert.internal_ca.public_name"}},
		{name: "internal ca local", profile: intermediateProfile(), cert: testCert{names: []string{"app.localhost"}, issuer: local}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert := tc.cert.generate(t)
			if tc.mutate != nil {
				tc.mutate(cert.Leaf)
			}
			o := certs.Origin{Kind: certs.KindManual}
			if tc.cert.issuer == local {
				o.Kind = certs.KindInternal
			}
			cr, fs := lintCertificate(tc.profile, servedOf(&cert, o), now)
			if !slices.Equal(codes(fs), tc.findings) {
				t.Errorf("findings %v, want %v\n%v", codes(fs), tc.findings, fs)
			}
			if got := capCodes(cr.caps); !slices.Equal(got, tc.caps) {
				t.Errorf("caps %v, want %v", got, tc.caps)
			}
			if (cr.lifetimeWarning != "") != tc.warning {
				t.Errorf("lifetime warning %q, want one: %v", cr.lifetimeWarning, tc.warning)
			}
			for _, f := range fs {
				if f.Certificate == "" || f.Message == "" || f.Fix == "" {
					t.Errorf("finding lacks certificate, message or fix: %+v", f)
				}
			}
			if !slices.Equal(cr.Names, tc.cert.names) || cr.NotAfter.IsZero() || cr.KeyType == "" || cr.KeyBits == 0 {
				t.Errorf("report %+v", cr)
			}
		})
	}
}

// caRSA is an RSA CA, for the SHA-1 signature (Go signs SHA-1 only with RSA).
func caRSA(t *testing.T) *testCA {
	t.Helper()
	return testpki.NewCA(t, "Test RSA CA", testpki.RSAKey(t, 2048))
}

func TestSiteCaps(t *testing.T) {
	local := newTestCA(t, "Caddy Local Authority - ECC Intermediate")
	cert := testCert{names: []string{"app.localhost", "shop.example.com"}, issuer: local}.generate(t)
	cr, _ := lintCertificate(intermediateProfile(), servedOf(&cert, certs.Origin{Kind: certs.KindInternal}), time.Now())
	if cr.IssuerKind != "internal" {
		t.Fatal("not seen as internal")
	}
	if caps := cr.siteCaps("app.localhost"); len(caps) != 0 {
		t.Errorf("local site caps %v, want none: the internal CA is trusted for local names", caps)
	}
	if caps := capCodes(cr.siteCaps("shop.example.com")); !slices.Equal(caps, []string{"cert.internal_ca.public_name"}) {
		t.Errorf("public site caps %v", caps)
	}
}

func TestPublicNames(t *testing.T) {
	got := publicNames([]string{"localhost", "a.localhost", "b.internal", "10.0.0.1", "127.0.0.1", "::1", "192.168.1.1", "example.com", "*.example.org", "8.8.8.8"})
	if !slices.Equal(got, []string{"example.com", "*.example.org", "8.8.8.8"}) {
		t.Fatalf("publicNames = %v", got)
	}
}
