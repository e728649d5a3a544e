package integration

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
	"github.com/hardtls/caddy-hardtls/pinreport"
)

// writeCertFiles writes a certificate's chain and key as PEM files for a
// site's tls directive.
func writeCertFiles(t *testing.T, chain [][]byte, key any) (certFile, keyFile string) {
	t.Helper()
	var certPEM bytes.Buffer
	for _, der := range chain {
		pem.Encode(&certPEM, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// revocationOf polls /pinreport/<name> until its revocation status is
// want.
func revocationOf(t *testing.T, name, want string) pinreport.CertificateReport {
	t.Helper()
	return waitInventory(t, name, 20*time.Second, "revocation status "+want, func(c pinreport.CertificateReport) bool {
		return c.Revocation != nil && c.Revocation.Status == want
	})
}

// revokedWithinOnePoll checks that the first round of revocation checks
// that started after revokedAt saw the revocation.
func revokedWithinOnePoll(t *testing.T, mark int64, revokedAt time.Time) {
	t.Helper()
	for _, e := range logsSince(t, mark, "revocation checked", 10*time.Second) {
		ts, _ := e["ts"].(float64)
		took, _ := e["took"].(float64)
		started := time.Unix(0, int64((ts-took)*1e9))
		if started.Before(revokedAt) {
			continue
		}
		if e["revoked"] != float64(1) {
			t.Errorf("the first round after the revocation saw %v revoked certificates; want 1: %v", e["revoked"], e)
		}
		return
	}
	t.Error("no round of revocation checks after the revocation")
}

// promtoolLint fails t on promtool findings about pinreport_ families.
func promtoolLint(t *testing.T) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed: metrics lint skipped")
		return
	}
	_, body := adminGet(t, "/metrics")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, _ := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "pinreport_") {
			t.Errorf("promtool check metrics: %s", line)
		}
	}
}

// TestPinReportRevokedManualCertificate serves a certificate whose CRL a
// test CA publishes on loopback HTTP, revokes it mid-test, and checks the
// alert, the report and the metrics: the first round of checks after the
// revocation sees it.
func TestPinReportRevokedManualCertificate(t *testing.T) {
	const name = "revoked.pinreport.localhost"
	ca := testpki.NewCRLCA(t, "pinreport revocation test CA", nil)
	srv := ca.ServeCRL(t)
	cert := ca.IssueWith(t, testpki.Leaf{Names: []string{name}, Lifetime: 30 * 24 * time.Hour}, testpki.WithCRL(srv.URL))
	certFile, keyFile := writeCertFiles(t, cert.Certificate, cert.PrivateKey)

	mark := logMark()
	dumpPinReportLogs(t, mark)
	load(t, caddyfile(`
	pinreport {
		scan_interval 1h
		revocation {
			interval 1s
		}
	}`, fmt.Sprintf(`
%s {
	tls %s %s
	respond "revoked"
}`, name, certFile, keyFile)), "caddyfile")

	good := revocationOf(t, name, "good")
	if good.Revocation.CRL == nil || good.Revocation.CRL.URL != srv.URL || good.Revocation.CRL.NextUpdate == nil {
		t.Errorf("good: %+v", good.Revocation)
	}
	before, _ := scrape(t).value("pinreport_revocations_total", map[string]string{"source": "crl"})

	mark = logMark()
	revokedAt := time.Now()
	srv.Revoke(t, cert.Leaf.SerialNumber, 1)
	alerts := logsSince(t, mark, "certificate revoked", 20*time.Second)
	if len(alerts) != 1 {
		t.Fatalf("%d revoked alerts; want 1", len(alerts))
	}
	al := alerts[0]
	if al["event"] != pinreport.EventRevoked || al["level"] != "error" || al["revocation_source"] != "crl" || al["crl"] != srv.URL ||
		al["revocation_reason"] != "keyCompromise" || !strings.Contains(fmt.Sprint(al["fix"]), "replace the certificate files") {
		t.Errorf("revoked alert %v", al)
	}
	revokedWithinOnePoll(t, mark, revokedAt)

	rev := revocationOf(t, name, "revoked")
	if rev.Revocation.CRL == nil || rev.Revocation.CRL.Reason != "keyCompromise" || rev.Revocation.CRL.RevokedAt == nil {
		t.Errorf("revoked: %+v", rev.Revocation.CRL)
	}
	fams := scrape(t)
	if v, _ := fams.value("pinreport_revocations_total", map[string]string{"source": "crl"}); v < before+1 {
		t.Errorf("pinreport_revocations_total{source=crl} %v; want %v", v, before+1)
	}
	if v, _ := fams.value("pinreport_revocation_status", map[string]string{"status": "revoked"}); v != 1 {
		t.Errorf("pinreport_revocation_status{status=revoked} %v; want 1", v)
	}
	if v, _ := fams.value("pinreport_crl_fetches_total", map[string]string{"result": "ok"}); v < 2 {
		t.Errorf("pinreport_crl_fetches_total{result=ok} %v; want the CRL fetched before and after", v)
	}
	// Still revoked, and said once.
	time.Sleep(2500 * time.Millisecond)
	if n := len(logsSince(t, mark, "certificate revoked", 0)); n != 1 {
		t.Errorf("%d revoked alerts after more rounds; want 1", n)
	}
	promtoolLint(t)
}

// localCA returns Caddy's local intermediate CA, the issuer of tls
// internal certificates, read from the storage.
func localCA(t *testing.T) *testpki.CA {
	t.Helper()
	dir := filepath.Join(dataDir, "caddy", "pki", "authorities", "local")
	var certPEM, keyPEM []byte
	eventually(t, 20*time.Second, "Caddy's local intermediate in "+dir, func() (bool, string) {
		certPEM, _ = os.ReadFile(filepath.Join(dir, "intermediate.crt"))
		keyPEM, _ = os.ReadFile(filepath.Join(dir, "intermediate.key"))
		return len(certPEM) > 0 && len(keyPEM) > 0, fmt.Sprintf("certificate %d bytes, key %d bytes", len(certPEM), len(keyPEM))
	})
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := certmagic.PEMDecodePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &testpki.CA{Cert: cert, Key: key}
}

// TestPinReportRevokedManagedCertificate revokes a certificate Caddy
// manages (tls internal: Caddy's local CA, whose intermediate may sign
// CRLs) through a CRL that issuer_crls gives its issuer, since the
// certificate names none, as Let's Encrypt's test CA pebble does not
// either (and pebble's intermediates may not sign CRLs). Caddy offers no
// way to force its replacement: the alert says how.
func TestPinReportRevokedManagedCertificate(t *testing.T) {
	const name = "managed.revoked.pinreport.localhost"
	// The first config makes Caddy's local CA, whose intermediate the
	// second maps to a CRL this test serves.
	load(t, caddyfile("", name+" {\n\ttls internal\n\trespond \"managed\"\n}"), "caddyfile")
	local := localCA(t)
	crl := local.ServeCRL(t)
	pin := pinreport.SPKIPin(local.Cert).OkHttp()

	mark := logMark()
	dumpPinReportLogs(t, mark)
	load(t, caddyfile(fmt.Sprintf(`
	pinreport {
		scan_interval 1h
		revocation {
			interval 1s
			crl spki %s %s
		}
	}`, pin, crl.URL), name+" {\n\ttls internal\n\trespond \"managed\"\n}"), "caddyfile")
	leaf := waitCert(t, name, localRoot(t))
	good := revocationOf(t, name, "good")
	if good.IssuerKind != "internal" || good.IssuerKey != "local" || good.Revocation.CRL.URL != crl.URL {
		t.Fatalf("managed certificate: kind %s from %q, CRL %+v", good.IssuerKind, good.IssuerKey, good.Revocation.CRL)
	}

	mark = logMark()
	revokedAt := time.Now()
	crl.Revoke(t, leaf.SerialNumber, 4)
	alerts := logsSince(t, mark, "certificate revoked", 20*time.Second)
	if len(alerts) != 1 {
		t.Fatalf("%d revoked alerts; want 1", len(alerts))
	}
	fix := fmt.Sprint(alerts[0]["fix"])
	wantPath := filepath.Join(dataDir, "caddy", "certificates", "local", name)
	if alerts[0]["revocation_reason"] != "superseded" || !strings.Contains(fix, wantPath) || !strings.Contains(fix, "restart Caddy") {
		t.Errorf("revoked alert %v; want a fix naming %s", alerts[0], wantPath)
	}
	if _, err := os.Stat(wantPath); err != nil {
		t.Errorf("the fix names %s: %v", wantPath, err)
	}
	revokedWithinOnePoll(t, mark, revokedAt)
}

// TestPinReportHostileCRLNeverRevokes points a manual certificate and a
// managed one at CRL servers that list them, in CRLs no one should
// believe: one signed by an impostor CA of the same name, and a stale one
// signed by the right CA. Each is a revocation_unknown warning, once;
// never a revoked alert, never a replacement to do.
func TestPinReportHostileCRLNeverRevokes(t *testing.T) {
	const manualName, managedName = "hostile.pinreport.localhost", "managed.hostile.pinreport.localhost"
	ca := testpki.NewCRLCA(t, "pinreport hostile test CA", nil)
	impostor := testpki.NewCRLCA(t, "pinreport hostile test CA", nil)
	load(t, caddyfile("", managedName+" {\n\ttls internal\n\trespond \"managed\"\n}"), "caddyfile")
	local := localCA(t)

	var serials []*big.Int // listed in every hostile CRL
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		url := "http://" + r.Host + r.URL.Path
		var revoked []x509.RevocationListEntry
		for _, s := range serials {
			revoked = append(revoked, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Hour), ReasonCode: 1})
		}
		switch r.URL.Path {
		case "/impostor.crl":
			w.Write(impostor.SignCRL(t, testpki.CRL{Revoked: revoked, IDP: []string{url}}))
		case "/stale.crl":
			w.Write(local.SignCRL(t, testpki.CRL{ThisUpdate: time.Now().Add(-48 * time.Hour), NextUpdate: time.Now().Add(-time.Hour), Revoked: revoked, IDP: []string{url}}))
		default:
			http.NotFound(w, r)
		}
	}))
	defer hostile.Close()
	cert := ca.IssueWith(t, testpki.Leaf{Names: []string{manualName}}, testpki.WithCRL(hostile.URL+"/impostor.crl"))
	serials = append(serials, cert.Leaf.SerialNumber)
	certFile, keyFile := writeCertFiles(t, cert.Certificate, cert.PrivateKey)

	revokedBefore, _ := scrape(t).value("pinreport_revocations_total", map[string]string{"source": "crl"})
	mark := logMark()
	dumpPinReportLogs(t, mark)
	load(t, caddyfile(fmt.Sprintf(`
	pinreport {
		scan_interval 1h
		revocation {
			interval 1s
			crl spki %s %s/stale.crl
		}
	}`, pinreport.SPKIPin(local.Cert).OkHttp(), hostile.URL), fmt.Sprintf(`
%s {
	tls %s %s
	respond "manual"
}
%s {
	tls internal
	respond "managed"
}`, manualName, certFile, keyFile, managedName)), "caddyfile")
	managedLeaf := waitCert(t, managedName, localRoot(t))
	serials = append(serials, managedLeaf.SerialNumber)

	for name, want := range map[string]string{manualName: "names authority key ID", managedName: "is stale"} {
		rep := revocationOf(t, name, "unknown")
		if rep.Revocation.CRL == nil || !strings.Contains(rep.Revocation.CRL.Error, want) {
			t.Errorf("%s: %+v; want an error saying %q", name, rep.Revocation.CRL, want)
		}
	}
	time.Sleep(3 * time.Second) // more rounds of checks
	if got := logsSince(t, mark, "certificate revoked", 0); len(got) != 0 {
		t.Fatalf("a hostile CRL raised revoked alerts: %v", got)
	}
	warnings := logsSince(t, mark, "certificate revocation status unknown", 0)
	perName := map[string]int{}
	for _, w := range warnings {
		if w["level"] != "warn" || w["fix"] != nil {
			t.Errorf("warning %v", w)
		}
		names, _ := w["names"].([]any)
		perName[fmt.Sprint(names[0])]++
	}
	if perName[manualName] != 1 || perName[managedName] != 1 {
		t.Errorf("unknown warnings per certificate %v; want one each", perName)
	}
	if v, _ := scrape(t).value("pinreport_revocation_status", map[string]string{"status": "unknown"}); v != 2 {
		t.Errorf("pinreport_revocation_status{status=unknown} %v; want 2", v)
	}
	if v, _ := scrape(t).value("pinreport_revocations_total", map[string]string{"source": "crl"}); v != revokedBefore {
		t.Errorf("pinreport_revocations_total{source=crl} went from %v to %v after hostile CRLs", revokedBefore, v)
	}
}
