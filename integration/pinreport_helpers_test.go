package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

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

	cert, rootPEM := selfSignedServerCert(t)
	rootFile := filepath.Join(t.TempDir(), "pebble-root.pem")
	if err := os.WriteFile(rootFile, rootPEM, 0o644); err != nil {
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

// selfSignedServerCert makes the certificate of pebble's HTTPS listener,
// returning it and its PEM (its own root).
func selfSignedServerCert(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pebble test listener"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// spkiPin computes base64(sha256(SPKI)) in Go; tests that check the
// module's pins use openssl instead (opensslPin).
func spkiPin(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// runOpenSSL runs the openssl CLI with stdin and returns its output.
func runOpenSSL(t *testing.T, stdin []byte, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl CLI not installed; it computes the expected pins independently")
	}
	cmd := exec.Command("openssl", args...)
	cmd.Stdin = strings.NewReader(string(stdin))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// opensslFacts are a certificate's pin, fingerprint and serial as the
// openssl CLI computes them.
type opensslFacts struct {
	pin, pinHex, fingerprint, serial string
}

func opensslFactsOf(t *testing.T, der []byte) opensslFacts {
	t.Helper()
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	pub := runOpenSSL(t, certPEM, "x509", "-pubkey", "-noout")
	spki := runOpenSSL(t, pub, "pkey", "-pubin", "-outform", "der")
	digest := runOpenSSL(t, spki, "dgst", "-sha256", "-binary")
	fp := strings.TrimSpace(string(runOpenSSL(t, certPEM, "x509", "-noout", "-fingerprint", "-sha256")))
	serial := strings.TrimSpace(string(runOpenSSL(t, certPEM, "x509", "-noout", "-serial")))
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
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp",
		net.JoinHostPort("127.0.0.1", strconv.Itoa(httpsPort)),
		&tls.Config{ServerName: serverName, RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS handshake for %s: %v", serverName, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates
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
	deadline := time.Now().Add(wait)
	var last pinreport.Report
	for {
		last = inventory(t, name)
		if len(last.Certificates) > 0 && cond(last.Certificates[0]) {
			return last.Certificates[0]
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(last, "", "  ")
			t.Fatalf("%s: not seen for %s within %s; last report:\n%s", what, name, wait, b)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// scrape reads the admin /metrics and parses it with the Prometheus text
// parser.
func scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	status, body := adminGet(t, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", status, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// metricValue returns the value of the series of family name whose labels
// include want, and whether there is one.
func metricValue(families map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf, ok := families[name]
	if !ok {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		for k, v := range want {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
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

// refusedLoad is loadError, retrying a POST that fails in transport: a
// refused load restores the previous config, restarting the admin server,
// and the next POST may meet the closing one ("connection reset by peer",
// seen once in five runs of TestPinReportConfigErrors).
func refusedLoad(t *testing.T, cfg, adapter string) string {
	t.Helper()
	contentType := "application/json"
	if adapter != "json" {
		contentType = "text/" + adapter
	}
	admin := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var resp *http.Response
	var err error
	for attempt := 0; ; attempt++ {
		resp, err = admin.Post(fmt.Sprintf("http://localhost:%d/load", adminPort), contentType, strings.NewReader(cfg))
		if err == nil {
			break
		}
		if attempt == 4 {
			t.Fatalf("posting config: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("config was accepted; want it refused:\n%s", cfg)
	}
	var apiErr struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &apiErr) == nil && apiErr.Error != "" {
		return apiErr.Error
	}
	return string(body)
}
