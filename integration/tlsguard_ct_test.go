package integration

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
	"github.com/hardtls/caddy-hardtls/tlsguard"
)

// TestTLSGuardCT serves a manual certificate carrying an embedded SCT list
// (two logs) and a certificate from Caddy's internal CA, and checks the
// SCTs /tlsguard/ reports per certificate against what openssl reads from
// the certificate Caddy serves. Neither certificate chains to this
// machine's root store, so Chrome's CT policy exempts both (the lint of
// publicly trusted ones is TestCTLint and TestCTLintThroughCaddy in
// package tlsguard, with a root store of the test's).
func TestTLSGuardCT(t *testing.T) {
	ca := newTestCA(t)
	logA, logB := testpki.LogIDFor("integration log a"), testpki.LogIDFor("integration log b")
	t0 := time.Date(2026, 5, 1, 8, 30, 0, 250e6, time.UTC)
	list := testpki.SCTList(testpki.SCT{LogID: logA, Timestamp: t0}.Marshal(), testpki.SCT{LogID: logB, Timestamp: t0.Add(time.Minute)}.Marshal())
	certFile, keyFile := testpki.WritePEM(t, t.TempDir(), "ct.localhost",
		ca.IssueWith(t, testpki.Leaf{Names: []string{"ct.localhost"}}, testpki.WithSCTList(list)))
	load(t, caddyfile("local_certs\n\ttlsguard", `
ct.localhost {
	tls `+certFile+` `+keyFile+`
	respond "ok"
}
internal.localhost {
	respond "ok"
}
`), "caddyfile")
	waitCert(t, "internal.localhost", localRoot(t))

	r := tlsguardReport(t)
	var ctCert, internal *tlsguard.CertReport
	for i, c := range r.Certificates {
		switch c.Names[0] {
		case "ct.localhost":
			ctCert = &r.Certificates[i]
		case "internal.localhost":
			internal = &r.Certificates[i]
		}
	}
	if ctCert == nil || internal == nil || ctCert.CT == nil || internal.CT == nil {
		t.Fatalf("certificates %+v", r.Certificates)
	}
	if ctCert.CT.Embedded != 2 || ctCert.CT.TLS != 0 || ctCert.CT.Trust != tlsguard.TrustPrivate ||
		!ctCert.CT.Policy.Compliant || !ctCert.CT.Policy.Exempt || len(ctCert.CT.SCTs) != 2 {
		t.Errorf("ct.localhost ct %+v", ctCert.CT)
	}
	if internal.CT.Embedded != 0 || internal.CT.Trust != tlsguard.TrustInternal || !internal.CT.Policy.Exempt {
		t.Errorf("internal.localhost ct %+v", internal.CT)
	}
	for _, code := range findingCodesAll(r) {
		if strings.HasPrefix(code, "cert.ct.") {
			t.Errorf("finding %s for a certificate Chrome's CT policy exempts", code)
		}
	}

	// openssl reads the SCTs of the certificate Caddy serves.
	served := servedLeafPEM(t, "ct.localhost")
	text := opensslText(t, served)
	ids := regexp.MustCompile(`Log ID[ \t]*:[ \t]*((?:[0-9A-F]{2}:?\s*)+)`).FindAllStringSubmatch(text, -1)
	stamps := regexp.MustCompile(`(?m)^[ \t]+Timestamp[ \t]*:[ \t]*(.+)$`).FindAllStringSubmatch(text, -1)
	if len(ids) != 2 || len(stamps) != 2 {
		t.Fatalf("openssl shows %d log IDs and %d timestamps, want 2:\n%s", len(ids), len(stamps), text)
	}
	for i, s := range ctCert.CT.SCTs {
		id, err := hex.DecodeString(strings.NewReplacer(":", "", " ", "", "\n", "").Replace(ids[i][1]))
		if err != nil || !bytes.Equal(id, s.LogID[:]) {
			t.Errorf("SCT %d: openssl log ID %s, report %s", i, ids[i][1], s.LogID)
		}
		ts, err := time.Parse("Jan _2 15:04:05.000 2006 MST", strings.TrimSpace(stamps[i][1]))
		if err != nil || !ts.Equal(s.Timestamp) {
			t.Errorf("SCT %d: openssl timestamp %q, report %v (%v)", i, stamps[i][1], s.Timestamp, err)
		}
	}
}

// servedLeafPEM returns the leaf certificate Caddy serves for serverName,
// as openssl s_client -showcerts prints it.
func servedLeafPEM(t *testing.T, serverName string) []byte {
	t.Helper()
	out, _ := sClient(t, serverName, nil, "-showcerts")
	i := bytes.Index(out, []byte("-----BEGIN CERTIFICATE-----"))
	if i < 0 {
		t.Fatalf("no certificate in openssl's output:\n%s", out)
	}
	block, _ := pem.Decode(out[i:])
	if block == nil {
		t.Fatalf("no certificate in openssl's output:\n%s", out)
	}
	return pem.EncodeToMemory(block)
}

// opensslText returns openssl x509 -text of a PEM certificate.
func opensslText(t *testing.T, certPEM []byte) string {
	t.Helper()
	return string(mustOpenSSL(t, certPEM, "x509", "-noout", "-text"))
}
