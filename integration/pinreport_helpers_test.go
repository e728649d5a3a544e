package integration

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
	"github.com/hardtls/caddy-hardtls/pinreport"
)

// pebbleCA is Let's Encrypt's test ACME CA running inside the test, on a
// free port, issuing certificates valid for a few seconds.
type pebbleCA struct {
	srv      *http.Server
	ca       *ca.CAImpl
	dirURL   string // the ACME directory
	rootFile string // the CA of pebble's own HTTPS listener, for Caddy's ca_root
	stopOnce sync.Once
}

// startPebble starts pebble with certificates valid for validity. Its
// validation authority accepts every challenge (PEBBLE_VA_ALWAYS_VALID),
// so the test needs no DNS. The environment variables are read when
// pebble's parts are built, so they are set only for that.
func startPebble(t *testing.T, validity time.Duration) *pebbleCA {
	t.Helper()
	for k, v := range map[string]string{
		"PEBBLE_VA_ALWAYS_VALID": "1",
		"PEBBLE_VA_NOSLEEP":      "1",
		"PEBBLE_WFE_NONCEREJECT": "0",
	} {
		t.Setenv(k, v)
	}
	logger := log.New(io.Discard, "pebble ", log.LstdFlags)
	if testing.Verbose() {
		logger.SetOutput(os.Stderr)
	}
	store := db.NewMemoryStore()
	profiles := map[string]ca.Profile{"default": {Description: "test", ValidityPeriod: uint64(validity / time.Second)}}
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, profiles)
	validator := va.New(logger, httpPort, httpsPort, false, "", store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	// pebble's HTTPS listener serves a certificate of a CA of its own,
	// which Caddy trusts through ca_root.
	listenerCA := testpki.NewCA(t, "pebble listener test CA", nil)
	cert := listenerCA.Issue(t, testpki.Leaf{Names: []string{"localhost"}})
	rootFile := filepath.Join(t.TempDir(), "pebble-root.pem")
	if err := os.WriteFile(rootFile, listenerCA.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:   front.Handler(),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		ErrorLog:  logger,
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	p := &pebbleCA{
		srv:      srv,
		ca:       authority,
		dirURL:   fmt.Sprintf("https://localhost:%d/dir", ln.Addr().(*net.TCPAddr).Port),
		rootFile: rootFile,
	}
	t.Cleanup(p.stop)
	return p
}

// stop takes the CA away: its port refuses connections from now on.
func (p *pebbleCA) stop() {
	p.stopOnce.Do(func() { _ = p.srv.Close() })
}

// issuerPin returns the SPKI pin of pebble's intermediate, the issuer of
// every certificate it signs.
func (p *pebbleCA) issuerPin() string {
	return spkiPin(p.ca.GetIntermediateCert(0).Cert)
}

// tlsBlock is the site tls directive that makes Caddy get its
// certificate from p.
func (p *pebbleCA) tlsBlock(extra string) string {
	return fmt.Sprintf("tls {\n\t\tca %s\n\t\tca_root %s\n\t\t%s\n\t}", p.dirURL, p.rootFile, extra)
}

// spkiPin computes base64(sha256(SPKI)) in Go; tests that check the
// module's pins use openssl instead (opensslPin).
func spkiPin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// opensslFacts are a certificate's pin, fingerprint and serial as the
// openssl CLI computes them.
type opensslFacts struct {
	pin, pinHex, fingerprint, serial string
}

func opensslFactsOf(t *testing.T, der []byte) opensslFacts {
	t.Helper()
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	pub := mustOpenSSL(t, certPEM, "x509", "-pubkey", "-noout")
	spki := mustOpenSSL(t, pub, "pkey", "-pubin", "-outform", "der")
	digest := mustOpenSSL(t, spki, "dgst", "-sha256", "-binary")
	fp := strings.TrimSpace(string(mustOpenSSL(t, certPEM, "x509", "-noout", "-fingerprint", "-sha256")))
	serial := strings.TrimSpace(string(mustOpenSSL(t, certPEM, "x509", "-noout", "-serial")))
	_, fp, _ = strings.Cut(fp, "=")
	_, serial, _ = strings.Cut(serial, "=")
	return opensslFacts{
		pin:         base64.StdEncoding.EncodeToString(digest),
		pinHex:      hex.EncodeToString(digest),
		fingerprint: strings.ToLower(strings.ReplaceAll(fp, ":", "")),
		serial:      strings.ToUpper(serial),
	}
}

// servedChain dials the HTTPS port with serverName and returns the chain
// Caddy serves, verified against roots.
func servedChain(t *testing.T, serverName string, roots *x509.CertPool) []*x509.Certificate {
	t.Helper()
	cs, err := handshake(serverName, roots, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cs.PeerCertificates
}

// adminGet GETs a path of the admin API and returns status and body.
func adminGet(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://localhost:%d%s", adminPort, path))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// inventory returns the pinreport report of the running config.
func inventory(t *testing.T, name string) pinreport.Report {
	t.Helper()
	status, body := adminGet(t, "/pinreport/"+name)
	var rep pinreport.Report
	if status == http.StatusNotFound {
		return rep
	}
	if status != http.StatusOK {
		t.Fatalf("GET /pinreport/%s: %d %s", name, status, body)
	}
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("decoding /pinreport/%s: %v\n%s", name, err, body)
	}
	return rep
}

// waitInventory polls /pinreport/<name> until cond holds for its first
// certificate, and returns it.
func waitInventory(t *testing.T, name string, wait time.Duration, what string, cond func(pinreport.CertificateReport) bool) pinreport.CertificateReport {
	t.Helper()
	var first pinreport.CertificateReport
	eventually(t, wait, what+" for "+name, func() (bool, string) {
		rep := inventory(t, name)
		b, _ := json.MarshalIndent(rep, "", "  ")
		if len(rep.Certificates) == 0 {
			return false, string(b)
		}
		first = rep.Certificates[0]
		return cond(first), string(b)
	})
	return first
}

// dumpPinReportLogs logs pinreport's log lines written after mark when
// the test fails or runs verbose, to show what the module saw.
func dumpPinReportLogs(t *testing.T, mark int64) {
	t.Cleanup(func() {
		if !t.Failed() && !testing.Verbose() {
			return
		}
		for _, e := range logsSince(t, mark, "", 0) {
			if logger, _ := e["logger"].(string); strings.HasPrefix(logger, "pinreport") {
				b, _ := json.Marshal(e)
				t.Log(string(b))
			}
		}
	})
}
