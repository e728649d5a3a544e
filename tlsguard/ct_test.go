package tlsguard

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

// TestCTLint lints certificates carrying SCT lists, well-formed and not,
// embedded and in the TLS extension, from a CA this machine trusts (a root
// store holding the test root), from Caddy's internal CA, self-signed,
// from a CA it does not trust, and with no root store at all.
func TestCTLint(t *testing.T) {
	root := testpki.NewCA(t, "CT test root", nil)
	issuing := root.Intermediate(t, "CT test issuing CA")
	trusted := x509.NewCertPool()
	trusted.AddCert(root.Cert)
	logA, logB, logC := testpki.LogIDFor("log a"), testpki.LogIDFor("log b"), testpki.LogIDFor("log c")
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123e6, time.UTC)
	s := func(id [32]byte) []byte { return testpki.SCT{LogID: id, Timestamp: t0}.Marshal() }
	list := func(scts ...[]byte) []byte { return testpki.SCTList(scts...) }

	for _, tc := range []struct {
		name     string
		ca       *testpki.CA // nil: self-signed
		lifetime time.Duration
		embedded []byte   // the extension's contents; nil: none
		tlsSCTs  [][]byte // the TLS extension's
		kind     certs.IssuerKind
		roots    *x509.CertPool
		trust    Trust
		finding  Severity // 0 with code "": none
		code     string
		embCount int
		errors   int
	}{
		{name: "2 logs", ca: issuing, embedded: list(s(logA), s(logB)), roots: trusted, trust: TrustPublic, embCount: 2},
		{name: "1 log", ca: issuing, embedded: list(s(logA)), roots: trusted, trust: TrustPublic,
			finding: SeverityError, code: "cert.ct.too_few_scts", embCount: 1},
		{name: "the same log twice", ca: issuing, embedded: list(s(logA), s(logA)), roots: trusted, trust: TrustPublic,
			finding: SeverityError, code: "cert.ct.too_few_scts", embCount: 2},
		{name: "no SCTs", ca: issuing, roots: trusted, trust: TrustPublic, finding: SeverityError, code: "cert.ct.too_few_scts"},
		{name: "zero entries", ca: issuing, embedded: []byte{0, 0}, roots: trusted, trust: TrustPublic,
			finding: SeverityError, code: "cert.ct.too_few_scts", errors: 1},
		{name: "truncated list", ca: issuing, embedded: list(s(logA), s(logB))[:60], roots: trusted, trust: TrustPublic,
			finding: SeverityError, code: "cert.ct.too_few_scts", errors: 1},
		{name: "length that overruns", ca: issuing, embedded: append([]byte{0xff, 0xff}, list(s(logA), s(logB))[2:]...), roots: trusted, trust: TrustPublic,
			finding: SeverityError, code: "cert.ct.too_few_scts", errors: 1},
		{name: "200 days, 2 logs", ca: issuing, lifetime: 200 * day, embedded: list(s(logA), s(logB)), roots: trusted, trust: TrustPublic,
			finding: SeverityError, code: "cert.ct.too_few_scts", embCount: 2},
		{name: "200 days, 3 logs", ca: issuing, lifetime: 200 * day, embedded: list(s(logA), s(logB), s(logC)), roots: trusted, trust: TrustPublic, embCount: 3},
		{name: "TLS extension, 2 logs", ca: issuing, tlsSCTs: [][]byte{s(logA), s(logB)}, roots: trusted, trust: TrustPublic},
		{name: "internal CA", ca: issuing, kind: certs.KindInternal, roots: trusted, trust: TrustInternal},
		{name: "self-signed", roots: trusted, trust: TrustSelfSigned},
		{name: "private CA", ca: testpki.NewCA(t, "private root", nil), embedded: list(s(logA)), roots: trusted, trust: TrustPrivate, embCount: 1},
		{name: "no root store", ca: issuing, embedded: list(s(logA)), trust: TrustUnknown,
			finding: SeverityWarning, code: "cert.ct.too_few_scts", embCount: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf := testpki.Leaf{Names: []string{"ct.example"}, Lifetime: tc.lifetime}
			var c tls.Certificate
			switch {
			case tc.ca == nil:
				c = testpki.SelfSigned(t, leaf)
			case tc.embedded != nil:
				c = tc.ca.IssueWith(t, leaf, testpki.WithSCTList(tc.embedded))
			default:
				c = tc.ca.Issue(t, leaf)
			}
			c.SignedCertificateTimestamps = tc.tlsSCTs
			cert := certmagic.Certificate{Certificate: c, Names: leaf.Names}
			sc := servedWithRoots(&cert, certs.Origin{Kind: tc.kind}, tc.roots)
			cr, fs := lintCertificate(intermediateProfile(), sc, time.Now())

			ct := cr.CT
			if ct.Trust != tc.trust {
				t.Errorf("trust %s, want %s", ct.Trust, tc.trust)
			}
			var got []string
			for _, f := range fs {
				if strings.HasPrefix(f.Code, "cert.ct.") {
					got = append(got, f.Code)
					if f.Severity != tc.finding || f.Certificate == "" || f.Fix == "" {
						t.Errorf("finding %+v, want severity %s with certificate and fix", f, tc.finding)
					}
					if tc.trust == TrustUnknown && !strings.Contains(f.Message, "no root store") {
						t.Errorf("message %q does not say why the trust is unknown", f.Message)
					}
				}
			}
			if want := slices.DeleteFunc([]string{tc.code}, func(s string) bool { return s == "" }); !slices.Equal(got, want) {
				t.Errorf("CT findings %v, want %v (%s)", got, want, ct.Policy.Message)
			}
			if ct.Policy.Compliant != (tc.code == "") || ct.Policy.Exempt != tc.trust.exempt() {
				t.Errorf("verdict %+v", ct.Policy)
			}
			if ct.Embedded != tc.embCount || ct.TLS != len(tc.tlsSCTs) || len(ct.Errors) != tc.errors {
				t.Errorf("%d embedded, %d TLS, errors %v; want %d, %d, %d errors", ct.Embedded, ct.TLS, ct.Errors, tc.embCount, len(tc.tlsSCTs), tc.errors)
			}
			for _, x := range ct.SCTs {
				if !x.Timestamp.Equal(t0) {
					t.Errorf("SCT timestamp %v, want %v", x.Timestamp, t0)
				}
			}
		})
	}
}

// TestCTReportJSON checks the shape of certificates[].ct in the report.
func TestCTReportJSON(t *testing.T) {
	root := testpki.NewCA(t, "CT test root", nil)
	trusted := x509.NewCertPool()
	trusted.AddCert(root.Cert)
	logA, logB := testpki.LogIDFor("log a"), testpki.LogIDFor("log b")
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123e6, time.UTC)
	c := root.IssueWith(t, testpki.Leaf{Names: []string{"ct.example"}}, testpki.WithSCTList(testpki.SCTList(
		testpki.SCT{LogID: logA, Timestamp: t0}.Marshal(), testpki.SCT{LogID: logB, Timestamp: t0.Add(time.Second)}.Marshal())))
	cert := certmagic.Certificate{Certificate: c, Names: []string{"ct.example"}}
	cr, fs := lintCertificate(intermediateProfile(), servedWithRoots(&cert, certs.Origin{Kind: certs.KindACME}, trusted), time.Now())
	if len(fs) != 0 {
		t.Fatalf("findings %v", fs)
	}
	b, err := json.Marshal(cr)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		CT struct {
			Embedded int `json:"embedded"`
			TLS      int `json:"tls"`
			SCTs     []struct {
				Source    string    `json:"source"`
				Version   string    `json:"version"`
				LogID     string    `json:"log_id"`
				Timestamp time.Time `json:"timestamp"`
			} `json:"scts"`
			Trust  string `json:"trust"`
			Policy struct {
				Compliant bool `json:"compliant"`
				Required  int  `json:"required"`
			} `json:"chrome_policy"`
		} `json:"ct"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	ct := got.CT
	if ct.Embedded != 2 || ct.TLS != 0 || len(ct.SCTs) != 2 || ct.Trust != "public" || !ct.Policy.Compliant || ct.Policy.Required != 2 {
		t.Fatalf("ct %s", b)
	}
	if ct.SCTs[0].LogID != base64.StdEncoding.EncodeToString(logA[:]) || ct.SCTs[0].Source != "embedded" || ct.SCTs[0].Version != "v1" ||
		!ct.SCTs[1].Timestamp.Equal(t0.Add(time.Second)) {
		t.Errorf("scts %+v", ct.SCTs)
	}
}
