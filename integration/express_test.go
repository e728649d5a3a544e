package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/pinreport"
)

// expressDir holds the Express 5 + helmet 8 test application, its
// package.json and the committed package-lock.json; node_modules is
// installed there by `npm ci` (.ci/run does it, and so does the first test
// that needs it).
const expressDir = "testdata/express"

// helmetSTS is the Strict-Transport-Security helmet 8 sends by default.
const helmetSTS = "max-age=31536000; includeSubDomains"

var npmInstall struct {
	once sync.Once
	err  error
}

// requireExpress makes sure node and the test application's packages are
// installed, running `npm ci` once when node_modules is missing or older
// than package-lock.json. Outside CI a machine without node skips the test
// with the commands to run; in CI (CI set) it fails, since .ci/run installs
// them.
func requireExpress(t *testing.T) string {
	t.Helper()
	const install = "apt-get install nodejs npm && (cd integration/testdata/express && npm ci)"
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") != "" {
			t.Fatalf("%s; .ci/run should have installed it", msg)
		}
		t.Skipf("%s; to run this test: %s", msg, install)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	npmInstall.once.Do(func() {
		lock, err := os.Stat(filepath.Join(expressDir, "package-lock.json"))
		if err != nil {
			npmInstall.err = err
			return
		}
		// npm ci writes this file last.
		installed, err := os.Stat(filepath.Join(expressDir, "node_modules", ".package-lock.json"))
		if err == nil && !installed.ModTime().Before(lock.ModTime()) {
			return
		}
		npm, err := exec.LookPath("npm")
		if err != nil {
			npmInstall.err = fmt.Errorf("node_modules is missing and npm is not installed")
			return
		}
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = expressDir
		if out, err := cmd.CombinedOutput(); err != nil {
			npmInstall.err = fmt.Errorf("npm ci in %s: %v\n%s", expressDir, err, out)
		}
	})
	if npmInstall.err != nil {
		missing("%v", npmInstall.err)
	}
	return node
}

// startExpress starts the test application on a port the system picks and
// returns its address (127.0.0.1:port). The process is killed when the
// test ends.
func startExpress(t *testing.T) string {
	t.Helper()
	node := requireExpress(t)
	cmd := exec.Command(node, "app.js")
	cmd.Dir = expressDir
	cmd.Env = append(os.Environ(), "PORT=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe() // the app exits when it closes
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting node app.js: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("node app.js exited without listening: %s", stderr.String())
		}
		return a
	case <-time.After(30 * time.Second):
		t.Fatalf("node app.js did not report its port within 30s: %s", stderr.String())
	}
	return ""
}

// expressSeen is what the application echoes about a request.
type expressSeen struct {
	Secure          bool    `json:"secure"`
	Protocol        string  `json:"protocol"`
	Hostname        string  `json:"hostname"`
	XForwardedProto *string `json:"x_forwarded_proto"`
	XForwardedHost  *string `json:"x_forwarded_host"`
}

func decodeSeen(t *testing.T, body string) expressSeen {
	t.Helper()
	var s expressSeen
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("the application's answer %q: %v", body, err)
	}
	return s
}

// http1Client is client without HTTP/2.
func http1Client(roots *x509.CertPool) *http.Client {
	c := client(roots)
	tr := c.Transport.(*http.Transport)
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	return c
}

// TestExpressBehindReverseProxyExample runs a real Express 5 + helmet 8
// application behind examples/reverse-proxy.Caddyfile, as docs/express.md
// tells users to: helmet's own Strict-Transport-Security never reaches the
// client, the application sees the client's scheme and host, a streamed
// response is passed on while it is written, and plain HTTP is redirected
// to the HTTPS port.
func TestExpressBehindReverseProxyExample(t *testing.T) {
	app := startExpress(t)
	cfg := exampleConfig(t, "reverse-proxy.Caddyfile")
	if !strings.Contains(cfg, "reverse_proxy 127.0.0.1:9000") {
		t.Fatal("examples/reverse-proxy.Caddyfile no longer proxies to 127.0.0.1:9000")
	}
	load(t, strings.ReplaceAll(cfg, "127.0.0.1:9000", app), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "app.localhost", roots)
	base := "https://app.localhost:" + strconv.Itoa(httpsPort)

	for name, c := range map[string]*http.Client{"HTTP/2": client(roots), "HTTP/1.1": http1Client(roots)} {
		t.Run(name, func(t *testing.T) {
			// A client's own X-Forwarded-* must not reach the application:
			// the example sets no trusted_proxies.
			resp, body := get(t, c, base+"/", "X-Forwarded-Proto", "http", "X-Forwarded-Host", "evil.example")
			if resp.StatusCode != 200 {
				t.Fatalf("GET /: %d %q", resp.StatusCode, body)
			}
			if want := name[:6]; !strings.HasPrefix(resp.Proto, want) {
				t.Errorf("response over %s, want %s", resp.Proto, want)
			}
			seen := decodeSeen(t, body)
			if !seen.Secure || seen.Protocol != "https" || seen.Hostname != "app.localhost" {
				t.Errorf("the application saw secure=%v protocol=%q hostname=%q, want true, https, app.localhost (%s)",
					seen.Secure, seen.Protocol, seen.Hostname, body)
			}
			// helmet ran (its other headers are there), so it set its
			// STS too; exactly one leaves Caddy, ours.
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q: helmet did not run, so the STS check below proves nothing", got)
			}
			if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != wantSTS {
				t.Errorf("Strict-Transport-Security = %q, want exactly [%q] (helmet sends %q)", got, wantSTS, helmetSTS)
			}

			checkStreamPassesThrough(t, c, base)
		})
	}

	// Plain HTTP: the redirect keeps the HTTPS port, and no STS header
	// (helmet's or ours) rides on it, even with a forged X-Forwarded-Proto.
	for _, hdr := range [][]string{nil, {"X-Forwarded-Proto", "https"}} {
		resp, _ := get(t, client(roots), "http://app.localhost:"+strconv.Itoa(httpPort)+"/x?y=1", hdr...)
		if want := base + "/x?y=1"; resp.StatusCode != 308 || resp.Header.Get("Location") != want {
			t.Errorf("HTTP %v: %d %q, want 308 %q", hdr, resp.StatusCode, resp.Header.Get("Location"), want)
		}
		if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 0 {
			t.Errorf("HTTP %v: Strict-Transport-Security %q on a plain-HTTP response", hdr, got)
		}
	}

	// What the example's comments promise from the admin API: tlsguard
	// grades the site, pinreport lists its certificate.
	report := tlsguardReport(t)
	if report.Profile != "intermediate" || report.Mode != "enforce" {
		t.Errorf("tlsguard runs %s/%s, want intermediate/enforce", report.Profile, report.Mode)
	}
	if g := siteReport(t, report, "app.localhost").Grade; g == nil || g.Grade != "A+" {
		t.Errorf("app.localhost grade = %+v, want A+", g)
	}
	waitInventory(t, "app.localhost", 15*time.Second, "pinreport to list the certificate", func(pinreport.CertificateReport) bool { return true })
	inv := inventory(t, "app.localhost")
	if len(inv.Certificates) != 1 {
		t.Errorf("pinreport lists %d certificates for app.localhost, want 1", len(inv.Certificates))
	}
}

// checkStreamPassesThrough asks the application for a stream that stays
// open until a second request releases it, reads the first chunk through
// Caddy, and only then releases it: the application answers the release
// with whether the stream was still waiting, so no clock is involved.
func checkStreamPassesThrough(t *testing.T, c *http.Client, base string) {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/stream?id="+id, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET /stream: %v", err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != wantSTS {
		t.Errorf("stream: Strict-Transport-Security = %q, want exactly [%q]", got, wantSTS)
	}
	r := bufio.NewReader(resp.Body)
	first, err := r.ReadString('\n')
	if err != nil || first != "first chunk\n" {
		t.Fatalf("stream: first line %q, %v", first, err)
	}

	// The release goes on a connection of its own.
	rc := http1Client(c.Transport.(*http.Transport).TLSClientConfig.RootCAs)
	_, body := get(t, rc, base+"/release?id="+id)
	var rel struct {
		Waiting bool `json:"waiting"`
	}
	if err := json.Unmarshal([]byte(body), &rel); err != nil || !rel.Waiting {
		t.Errorf("release: %q: the stream had already ended when its first chunk arrived", body)
	}
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != "last chunk\n" {
		t.Errorf("stream: rest %q, %v", rest, err)
	}
}

// TestExpressPlainHTTPSiteNoUpstreamSTS puts hsts on a plain-HTTP site in
// front of helmet, which sends its STS on every response: none may leave
// Caddy over plain HTTP (RFC 6797 §7.2), forged X-Forwarded-Proto or not.
func TestExpressPlainHTTPSiteNoUpstreamSTS(t *testing.T) {
	app := startExpress(t)
	load(t, caddyfile("", fmt.Sprintf(`
http://plain.localhost {
	hsts
	reverse_proxy %s
}
`, app)), "caddyfile")
	c := client(nil)
	for _, hdr := range [][]string{nil, {"X-Forwarded-Proto", "https"}} {
		resp, body := get(t, c, "http://plain.localhost:"+strconv.Itoa(httpPort)+"/", hdr...)
		if resp.StatusCode != 200 || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%v: %d %q, helmet headers %q: the app did not answer through helmet", hdr, resp.StatusCode, body, resp.Header)
		}
		if seen := decodeSeen(t, body); seen.Secure {
			t.Errorf("%v: the application saw a secure request over plain HTTP: %s", hdr, body)
		}
		if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 0 {
			t.Errorf("%v: Strict-Transport-Security %q on a plain-HTTP response", hdr, got)
		}
	}
}

// helmetSnippet returns the Caddyfile snippet of docs/express.md that sets
// helmet's default headers.
func helmetSnippet(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/express.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```caddyfile\n(\\(helmet_headers\\) \\{\n.*?\n\\})\n```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/express.md has no ```caddyfile block starting with (helmet_headers) {")
	}
	return string(m[1])
}

// TestExpressHelmetHeadersSnippet checks docs/express.md's Caddy snippet
// against helmet itself: on a route without helmet it must produce
// exactly the headers helmet's defaults set (HSTS aside, which is hsts's),
// and on a route with helmet it must leave one value of each.
func TestExpressHelmetHeadersSnippet(t *testing.T) {
	app := startExpress(t)
	direct := func(path string) http.Header {
		resp, err := http.Get("http://" + app + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header
	}
	withHelmet, bare := direct("/"), direct("/bare")
	if bare.Get("X-Powered-By") == "" || withHelmet.Get("X-Powered-By") != "" {
		t.Fatalf("Express/helmet no longer behave as this test assumes: X-Powered-By %q without helmet, %q with it",
			bare.Get("X-Powered-By"), withHelmet.Get("X-Powered-By"))
	}
	var helmetSet []string
	for name := range withHelmet {
		if _, ok := bare[name]; !ok && name != "Strict-Transport-Security" {
			helmetSet = append(helmetSet, name)
		}
	}
	slices.Sort(helmetSet)
	if len(helmetSet) < 10 {
		t.Fatalf("helmet set only %v", helmetSet)
	}

	load(t, caddyfile("\tlocal_certs", helmetSnippet(t)+fmt.Sprintf(`
app.localhost {
	import helmet_headers
	hsts
	reverse_proxy %s
}
`, app)), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "app.localhost", roots)
	c := client(roots)
	base := "https://app.localhost:" + strconv.Itoa(httpsPort)
	for _, path := range []string{"/bare", "/"} {
		resp, _ := get(t, c, base+path)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		for _, name := range helmetSet {
			if got, want := resp.Header.Values(name), withHelmet.Values(name); !slices.Equal(got, want) {
				t.Errorf("GET %s: %s = %q, helmet sends %q", path, name, got, want)
			}
		}
		if got := resp.Header.Values("X-Powered-By"); len(got) != 0 {
			t.Errorf("GET %s: X-Powered-By %q, helmet removes it", path, got)
		}
		if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != wantSTS {
			t.Errorf("GET %s: Strict-Transport-Security = %q, want exactly [%q]", path, got, wantSTS)
		}
	}
	t.Logf("helmet 8's default headers, matched by the snippet: %s", strings.Join(helmetSet, ", "))
}

// TestExpressEarlyHintsAndTrailers: the Express app's /hints sends a 103
// Early Hints carrying an HSTS field, then the response with helmet's,
// then trailers with another. Read by curl through a plain-HTTP hsts
// site, none of the three blocks holds an HSTS field (the README: "in the
// response header, in 1xx responses and in trailers"), while the 103's
// Link and the X-Trailer-Check trailer arrive, so the 103 and the trailers
// were passed on. Over HTTPS the 103 and the response header hold only
// ours, the header exactly one; trailers over HTTPS are left as the
// application wrote them (docs/hsts.md: trailers are not header fields,
// RFC 9110 section 6.5, and browsers do not read HSTS from them).
func TestExpressEarlyHintsAndTrailers(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed (.ci/run installs it)")
	}
	app := startExpress(t)
	load(t, caddyfile("local_certs\n\tauto_https disable_redirects", fmt.Sprintf(`
localhost {
	hsts
	reverse_proxy %[1]s
}
http://localhost {
	hsts
	reverse_proxy %[1]s
}
`, app)), "caddyfile")
	waitCert(t, "localhost", localRoot(t))
	for _, tc := range []struct {
		name, url string
		secure    bool
	}{
		{"plain_http", "http://localhost:" + strconv.Itoa(httpPort) + "/hints", false},
		{"https", "https://localhost:" + strconv.Itoa(httpsPort) + "/hints", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dump := strings.ReplaceAll(curlDump(t, "--http1.1", tc.url), "\r", "")
			blocks := strings.Split(strings.TrimSpace(dump), "\n\n")
			if len(blocks) != 3 || !strings.HasPrefix(blocks[0], "HTTP/1.1 103") || !strings.HasPrefix(blocks[1], "HTTP/1.1 200") {
				t.Fatalf("want a 103, a 200 and trailers; curl got:\n%s", dump)
			}
			if !strings.Contains(strings.ToLower(blocks[0]), "link: </style.css>") || !strings.Contains(blocks[2], "X-Trailer-Check: yes") {
				t.Fatalf("the 103's Link or the X-Trailer-Check trailer did not get through:\n%s", dump)
			}
			for i, block := range blocks {
				var sts []string
				for _, line := range strings.Split(block, "\n") {
					if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Strict-Transport-Security") {
						sts = append(sts, strings.TrimSpace(value))
					}
				}
				switch {
				case tc.secure && i == 2:
					// trailers: untouched over HTTPS, see above
				case !tc.secure && len(sts) != 0:
					t.Errorf("block %d over plain HTTP holds Strict-Transport-Security %q:\n%s", i, sts, block)
				case tc.secure && i == 1 && (len(sts) != 1 || sts[0] != wantSTS):
					t.Errorf("response header over HTTPS: Strict-Transport-Security %q, want exactly [%q]", sts, wantSTS)
				case tc.secure && slices.ContainsFunc(sts, func(v string) bool { return v != wantSTS }):
					t.Errorf("block %d over HTTPS holds a Strict-Transport-Security that is not ours: %q:\n%s", i, sts, block)
				}
			}
		})
	}
}
