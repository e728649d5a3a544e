package integration

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
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
		"admin localhost:2019", "admin localhost:{{admin_port}}\n\tskip_install_trust\n\tpersist_config off\n\tstorage file_system {{data_dir}}/caddy",
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
	inv := inventory(t, "localhost")
	for deadline := time.Now().Add(15 * time.Second); len(inv.Certificates) == 0 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		inv = inventory(t, "localhost")
	}
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
