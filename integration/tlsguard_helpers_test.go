package integration

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
	"github.com/hardtls/caddy-hardtls/tlsguard"
)

// tlsguardReport fetches GET /tlsguard/ from the admin endpoint.
func tlsguardReport(t *testing.T) tlsguard.Report {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://localhost:%d/tlsguard/", adminPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /tlsguard/: %s", resp.Status)
	}
	var r tlsguard.Report
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

// siteReport returns the report of one site.
func siteReport(t *testing.T, r tlsguard.Report, host string) tlsguard.SiteReport {
	t.Helper()
	for _, srv := range r.Servers {
		for _, s := range srv.Sites {
			if s.Host == host {
				return s
			}
		}
	}
	t.Fatalf("no site %s in the report", host)
	return tlsguard.SiteReport{}
}

// policyOf returns the report of the connection policy a site selects.
func policyOf(t *testing.T, r tlsguard.Report, host string) tlsguard.PolicyReport {
	t.Helper()
	for _, srv := range r.Servers {
		for _, s := range srv.Sites {
			if s.Host != host {
				continue
			}
			if s.Policy == nil || *s.Policy >= len(srv.Policies) {
				t.Fatalf("site %s selects no policy: %+v", host, s)
			}
			return srv.Policies[*s.Policy]
		}
	}
	t.Fatalf("no site %s in the report", host)
	return tlsguard.PolicyReport{}
}

// findingCodes returns the codes of the findings about a site or
// certificate name, in order.
func findingCodes(r tlsguard.Report, about string) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Site == about || strings.Contains(f.Certificate, "["+about+"]") || strings.Contains(f.Certificate, "["+about+" ") {
			out = append(out, f.Code)
		}
	}
	return out
}

// dialGet makes one handshake with the HTTPS port (a fresh connection,
// no resumption), sends GET / over it and reads the whole response. The
// server counts a handshake in VerifyConnection, which in TLS 1.3 may run
// after the client's handshake has returned; a response means it has
// run, so counters read after dialGet include this handshake.
func dialGet(serverName string, cfg *tls.Config) (tls.ConnectionState, error) {
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := dialTLS(httpsAddr(), serverName, nil, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", serverName); err != nil {
		return tls.ConnectionState{}, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return tls.ConnectionState{}, fmt.Errorf("reading the response: %w", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return conn.ConnectionState(), err
}

// waitServedGet polls like waitCert, with dialGet: once it returns, the
// server has counted every handshake it completed for it.
func waitServedGet(t *testing.T, serverName string, cfg *tls.Config) {
	t.Helper()
	eventually(t, 60*time.Second, "a handshake and a response from "+serverName, func() (bool, string) {
		_, err := dialGet(serverName, cfg)
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// sClient runs openssl s_client against the HTTPS port with serverName,
// args and stdin, and returns its output (standard output, then standard
// error) and how it exited: a refused handshake is an error here, not a
// test failure.
func sClient(t *testing.T, serverName string, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	args = append([]string{"s_client", "-connect", httpsAddr(), "-servername", serverName}, args...)
	out, errOut, err := runOpenSSL(t, stdin, args...)
	return append(out, errOut...), err
}

// sClientGet runs openssl s_client with args, sends GET / for serverName
// and waits for the response (-ign_eof keeps it reading until the server
// closes). It returns the output, which holds the response, and fails
// the test when openssl fails.
func sClientGet(t *testing.T, serverName string, args ...string) string {
	t.Helper()
	args = append([]string{"-ign_eof", "-alpn", "http/1.1"}, args...)
	out, err := sClient(t, serverName, []byte("GET / HTTP/1.1\r\nHost: "+serverName+"\r\nConnection: close\r\n\r\n"), args...)
	if err != nil {
		t.Fatalf("openssl s_client %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if !strings.Contains(string(out), "HTTP/1.1 ") {
		t.Fatalf("openssl s_client %s: no HTTP response:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

// openssl reports whether openssl s_client's handshake succeeded, with
// the protocol it negotiated.
func openssl(t *testing.T, serverName string, args ...string) (ok bool, protocol string) {
	t.Helper()
	out, err := sClient(t, serverName, nil, append([]string{"-brief"}, args...)...)
	for _, line := range strings.Split(string(out), "\n") {
		if v, found := strings.CutPrefix(strings.TrimSpace(line), "Protocol version:"); found {
			protocol = strings.TrimSpace(v)
		}
	}
	return err == nil && protocol != "", protocol
}

// opensslKeyBits returns the size of the server key openssl s_client
// reports for serverName ("Server public key is N bit", OpenSSL's
// EVP_PKEY_get_bits, the figure testssl.sh shows).
func opensslKeyBits(t *testing.T, serverName string) int {
	t.Helper()
	out, _ := sClient(t, serverName, nil)
	m := regexp.MustCompile(`Server public key is (\d+) bit`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("openssl s_client %s: no key size in:\n%s", serverName, out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// testCA signs the certificates tests load with `tls <cert> <key>`.
type testCA struct{ *testpki.CA }

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	return &testCA{testpki.NewCA(t, "hardtls test CA", testpki.RSAKey(t, 2048))}
}

// leafSpec describes a certificate to generate.
type leafSpec struct {
	name      string
	rsaBits   int  // ECDSA P-256 when 0 and not ed25519
	ed25519   bool // an Ed25519 key
	sig       x509.SignatureAlgorithm
	notBefore time.Time
	lifetime  time.Duration
	selfSign  bool
}

// writeLeaf generates a certificate signed by ca (or itself) and writes it
// with its chain and its key as <name>.pem and <name>-key.pem in dir. It
// returns the two paths.
func (ca *testCA) writeLeaf(t *testing.T, dir string, spec leafSpec) (certFile, keyFile string) {
	t.Helper()
	l := testpki.Leaf{Names: []string{spec.name}, Sig: spec.sig, NotBefore: spec.notBefore, Lifetime: spec.lifetime}
	switch {
	case spec.rsaBits > 0:
		l.Key = testpki.RSAKey(t, spec.rsaBits)
	case spec.ed25519:
		l.Key = testpki.Ed25519Key(t)
	}
	c := testpki.SelfSigned
	if !spec.selfSign {
		c = ca.Issue
	}
	return testpki.WritePEM(t, dir, spec.name, c(t, l))
}

// Clients of the tests: each makes one full handshake.
var (
	cbcRSAOnly = &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}}
	gcmRSAOnly = &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
)

func withRoots(cfg *tls.Config, roots *x509.CertPool) *tls.Config {
	c := cfg.Clone()
	c.RootCAs = roots
	return c
}

// wantHandshake checks that a client completes (or fails) a handshake.
func wantHandshake(t *testing.T, host string, cfg *tls.Config, ok bool, version uint16) {
	t.Helper()
	cs, err := handshake(host, nil, cfg)
	switch {
	case ok && err != nil:
		t.Errorf("handshake with %s failed: %v", host, err)
	case ok && cs.Version != version:
		t.Errorf("negotiated %s, want %s", tls.VersionName(cs.Version), tls.VersionName(version))
	case !ok && err == nil:
		t.Errorf("handshake with %s succeeded with %s %s; want it refused",
			host, tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite))
	}
}

// wantOpenSSL checks openssl s_client against the running server.
func wantOpenSSL(t *testing.T, host string, ok bool, protocol string, args ...string) {
	t.Helper()
	got, proto := openssl(t, host, args...)
	if got != ok || (ok && proto != protocol) {
		t.Errorf("openssl s_client %s: connected %v (%s), want %v (%s)", strings.Join(args, " "), got, proto, ok, protocol)
	}
}

// rsaSite is a site with an RSA certificate from the local CA, so that
// ECDHE_RSA suites are usable at all; extra goes into its tls block.
func rsaSite(host, extra string) string {
	return fmt.Sprintf(`
%s {
	tls {
		key_type rsa2048
		%s
	}
	hsts
	respond "ok"
}
`, host, extra)
}

func findingCodesAll(r tlsguard.Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Code)
	}
	return out
}
