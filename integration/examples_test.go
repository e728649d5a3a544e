package integration

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/pinreport"
)

// exampleConfig reads a file of examples/ and moves it onto the test ports
// and storage, so the file that users run is the one tested.
func exampleConfig(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile("../examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer(
		"admin localhost:2019", "admin localhost:{{admin_port}}\n\tdefault_bind 127.0.0.1\n\tskip_install_trust\n\tpersist_config off\n\tstorage file_system {{data_dir}}/caddy",
		"http_port 8080", "http_port {{http_port}}",
		"https_port 8443", "https_port {{https_port}}",
	).Replace(string(raw))
	if cfg == string(raw) {
		t.Fatalf("examples/%s no longer has the ports this test moves", name)
	}
	return expand(cfg)
}

// TestExampleCaddyfile runs the README's examples/Caddyfile: HSTS over
// HTTPS and hardtls's redirect on the plain-HTTP port.
func TestExampleCaddyfile(t *testing.T) {
	load(t, exampleConfig(t, "Caddyfile"), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "localhost", roots)
	c := client(roots)

	resp, body := get(t, c, "https://localhost:"+strconv.Itoa(httpsPort)+"/")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "Hello from hardtls over HTTP/2.0, tls1.3") {
		t.Errorf("HTTPS: %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != wantSTS {
		t.Errorf("HTTPS: Strict-Transport-Security %q", got)
	}

	// tlsguard grades the site from the admin API: TLS 1.3, HSTS of two
	// years and the local CA trusted for localhost make an A+.
	report := tlsguardReport(t)
	if report.Profile != "intermediate" || report.Mode != "enforce" {
		t.Errorf("tlsguard runs %s/%s, want intermediate/enforce", report.Profile, report.Mode)
	}
	if g := siteReport(t, report, "localhost").Grade; g == nil || g.Grade != "A+" {
		t.Errorf("localhost grade = %+v, want A+", g)
	}

	// pinreport lists the served certificate with its pin, as computed
	// here from the certificate the TLS client received.
	leaf := waitCert(t, "localhost", roots)
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	wantPin := base64.StdEncoding.EncodeToString(sum[:])
	// Scans follow certificate events within seconds.
	waitInventory(t, "localhost", 15*time.Second, "pinreport to list the certificate", func(pinreport.CertificateReport) bool { return true })
	inv := inventory(t, "localhost")
	if len(inv.Certificates) != 1 || inv.Certificates[0].SPKIPin != wantPin || inv.Certificates[0].IssuerKind != "internal" {
		t.Errorf("pinreport for localhost = %+v, want one internal certificate with pin %s", inv.Certificates, wantPin)
	}

	resp, _ = get(t, c, "http://localhost:"+strconv.Itoa(httpPort)+"/some/path?q=1")
	if want := "https://localhost:" + strconv.Itoa(httpsPort) + "/some/path?q=1"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Errorf("HTTP: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	resp, _ = get(t, c, "http://localhost:"+strconv.Itoa(httpPort)+"/", "Host", "evil.example")
	if resp.StatusCode != 421 || resp.Header.Get("Location") != "" {
		t.Errorf("HTTP evil host: %d %q, want 421 without Location", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestExampleReverseProxy runs examples/reverse-proxy.Caddyfile in front of
// an application that sends its own, weaker Strict-Transport-Security.
func TestExampleReverseProxy(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=60")
		fmt.Fprintf(w, "app saw %s %s", r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"))
	}))
	defer app.Close()
	cfg := exampleConfig(t, "reverse-proxy.Caddyfile")
	if !strings.Contains(cfg, "reverse_proxy 127.0.0.1:9000") {
		t.Fatal("examples/reverse-proxy.Caddyfile no longer proxies to 127.0.0.1:9000")
	}
	load(t, strings.ReplaceAll(cfg, "127.0.0.1:9000", strings.TrimPrefix(app.URL, "http://")), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "app.localhost", roots)
	c := client(roots)

	// Caddy's own X-Forwarded-* replace the client's (no trusted_proxies).
	resp, body := get(t, c, "https://app.localhost:"+strconv.Itoa(httpsPort)+"/", "X-Forwarded-Proto", "http", "X-Forwarded-Host", "evil.example")
	if body != "app saw https app.localhost:"+strconv.Itoa(httpsPort) {
		t.Errorf("status %d body = %q", resp.StatusCode, body)
	}
	if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != wantSTS {
		t.Errorf("Strict-Transport-Security = %q, want exactly [%q]", got, wantSTS)
	}
	resp, _ = get(t, c, "http://app.localhost:"+strconv.Itoa(httpPort)+"/x")
	if want := "https://app.localhost:" + strconv.Itoa(httpsPort) + "/x"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Errorf("HTTP: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
}

// TestExampleModern runs examples/modern.Caddyfile: a client limited to
// TLS 1.2 is refused, a TLS 1.3 client served.
func TestExampleModern(t *testing.T) {
	load(t, exampleConfig(t, "modern.Caddyfile"), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "localhost", roots)
	wantHandshake(t, "localhost", withRoots(&tls.Config{MaxVersion: tls.VersionTLS12}, roots), false, 0)
	wantHandshake(t, "localhost", withRoots(&tls.Config{MinVersion: tls.VersionTLS13}, roots), true, tls.VersionTLS13)
	_, body := get(t, client(roots), "https://localhost:"+strconv.Itoa(httpsPort)+"/")
	if body != "TLS 1.3 only: tls1.3" {
		t.Errorf("body = %q", body)
	}
}

// productionConfig reads examples/production.Caddyfile and points it at
// the test: harness ports, storage of its own (certificates and ACME
// accounts of an earlier pebble must not be found there), pebble as the
// ACME CA with renewals checked every 2 s, the given webhook and backends.
// Every replaced text must be in the file, so the file that users copy is
// the one tested.
func productionConfig(t *testing.T, pebble *pebbleCA, webhook string, backends ...string) string {
	t.Helper()
	raw, err := os.ReadFile("../examples/production.Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(raw)
	for _, r := range [][2]string{
		{"\temail ops@example.com\n", "\temail ops@example.com\n" +
			strings.ReplaceAll(globals, "{{data_dir}}/caddy", t.TempDir()) +
			"\tacme_ca " + pebble.dirURL + "\n\tacme_ca_root " + pebble.rootFile + "\n\trenew_interval 2s\n"},
		{"https://alerts.example.com/caddy", webhook},
		{"10.0.1.10:8080 10.0.1.11:8080", strings.Join(backends, " ")},
	} {
		if !strings.Contains(cfg, r[0]) {
			t.Fatalf("examples/production.Caddyfile no longer has %q", r[0])
		}
		cfg = strings.Replace(cfg, r[0], r[1], 1)
	}
	return expand(cfg)
}

// rampHeader is the header the example's ramp promises at now: each stage
// from its start for as long as its hold (its max-age), the first one
// before the ramp starts, the final value with preload after the last.
func rampHeader(now time.Time) string {
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if now.Before(at) {
		return "max-age=300; includeSubDomains"
	}
	for _, stage := range []int{300, 7 * 86400, 30 * 86400} {
		at = at.Add(time.Duration(stage) * time.Second)
		if now.Before(at) {
			return "max-age=" + strconv.Itoa(stage) + "; includeSubDomains"
		}
	}
	return "max-age=63072000; includeSubDomains; preload"
}

// TestExampleProduction serves examples/production.Caddyfile with pebble,
// Let's Encrypt's test CA, in place of Let's Encrypt: the HSTS ramp, the
// same-host-first and canonical-host redirects, the backends' health
// check and X-Forwarded-Proto, tlsguard and pinreport, and the promise
// that the leaf key, and with it the SPKI pin, survives a renewal.
func TestExampleProduction(t *testing.T) {
	t.Setenv("PINREPORT_SECRET", "example-secret")
	pebble := startPebble(t, 20*time.Second)
	hook := newHookServer(t, "example-secret", 0)
	var backends []string
	for i := range 2 {
		b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" {
				return
			}
			fmt.Fprintf(w, "backend %d saw %s %s", i, r.Header.Get("X-Forwarded-Proto"), r.Host)
		}))
		defer b.Close()
		backends = append(backends, strings.TrimPrefix(b.URL, "http://"))
	}
	freshCertCache(t) // the test's renew_interval 2s applies
	mark := logMark()
	t.Cleanup(func() {
		if t.Failed() {
			for _, e := range logsSince(t, mark, "", 0) {
				if l, _ := e["logger"].(string); strings.HasPrefix(l, "tls") || strings.HasPrefix(l, "pinreport") {
					t.Logf("%v %v %v %v %v", e["ts"], e["logger"], e["msg"], e["identifier"], e["error"])
				}
			}
		}
	})
	load(t, productionConfig(t, pebble, hook.URL+"/hook", backends...), "caddyfile")
	roots := x509.NewCertPool()
	roots.AddCert(pebble.ca.GetRootCert(0).Cert)
	first := waitCert(t, "example.com", roots)
	waitCert(t, "www.example.com", roots)
	c := client(roots)
	https := ":" + strconv.Itoa(httpsPort)

	// A forged X-Forwarded-Proto does not reach the backends: no
	// trusted_proxies.
	resp, body := get(t, c, "https://example.com"+https+"/", "X-Forwarded-Proto", "http")
	if resp.StatusCode != 200 || !strings.HasSuffix(body, " saw https example.com"+https) {
		t.Errorf("https://example.com/: %d %q", resp.StatusCode, body)
	}
	if got, want := resp.Header.Values("Strict-Transport-Security"), rampHeader(time.Now()); len(got) != 1 || got[0] != want {
		t.Errorf("Strict-Transport-Security = %q, want the ramp's [%q]", got, want)
	}
	// The canonical-host redirect over HTTPS carries HSTS.
	resp, _ = get(t, c, "https://www.example.com"+https+"/x?y=1")
	if want := "https://example.com" + https + "/x?y=1"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Errorf("https://www.example.com/x: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if len(resp.Header.Values("Strict-Transport-Security")) != 1 {
		t.Errorf("canonical-host redirect: Strict-Transport-Security %q", resp.Header.Values("Strict-Transport-Security"))
	}
	// Plain HTTP goes to HTTPS on the same host first, and nowhere else.
	resp, _ = get(t, c, "http://www.example.com:"+strconv.Itoa(httpPort)+"/x")
	if want := "https://www.example.com" + https + "/x"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Errorf("http://www.example.com/x: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	resp, _ = get(t, c, "http://127.0.0.1:"+strconv.Itoa(httpPort)+"/", "Host", "evil.example")
	if resp.StatusCode != 421 || resp.Header.Get("Location") != "" {
		t.Errorf("http:// for evil.example: %d %q, want 421 without Location", resp.StatusCode, resp.Header.Get("Location"))
	}

	report := tlsguardReport(t)
	if report.Profile != "intermediate" || report.Mode != "enforce" {
		t.Errorf("tlsguard runs %s/%s, want intermediate/enforce", report.Profile, report.Mode)
	}
	siteReport(t, report, "example.com")
	// pinreport lists the certificate with the pin a client computes; the
	// key is reused, so renewals in between do not change it.
	wantPin := spkiPin(first)
	waitInventory(t, "example.com", 15*time.Second, "the served key's pin", func(c pinreport.CertificateReport) bool {
		return c.SPKIPin == wantPin
	})

	// reuse_private_keys: a renewed certificate (new serial) with the same
	// key, as a client sees it. The chain is verified as of its own
	// issuance: on a loaded machine a 20 s certificate may expire before
	// its renewal lands, which is not what this checks.
	var chain []*x509.Certificate
	eventually(t, 90*time.Second, "example.com renewed (a 20s certificate)", func() (bool, string) {
		chain = servedChainAnyTime(t, "example.com")
		return chain[0].SerialNumber.Cmp(first.SerialNumber) != 0, fmt.Sprintf("serial %x, the first one", chain[0].SerialNumber)
	})
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "example.com", CurrentTime: leaf.NotBefore.Add(time.Second)}); err != nil {
		t.Errorf("renewed certificate: %v", err)
	}
	if !bytes.Equal(leaf.RawSubjectPublicKeyInfo, first.RawSubjectPublicKeyInfo) {
		t.Errorf("example.com renewed (serial %x to %x) with a new key: the example promises the key is reused", first.SerialNumber, leaf.SerialNumber)
	}
}

// servedChainAnyTime returns the chain served for serverName without
// verifying it: the caller verifies it as of a time of its choosing.
func servedChainAnyTime(t *testing.T, serverName string) []*x509.Certificate {
	t.Helper()
	cs, err := handshake(serverName, nil, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the caller verifies the chain
	if err != nil {
		t.Fatal(err)
	}
	return cs.PeerCertificates
}
