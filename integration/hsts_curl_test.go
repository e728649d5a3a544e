package integration

import (
	"bufio"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// curlDump runs curl as an outside client, trusting Caddy's local CA and
// sending localhost to 127.0.0.1, and returns every header block it
// received, as curl prints them: 1xx responses, the response's header,
// then its trailers.
func curlDump(t *testing.T, args ...string) string {
	t.Helper()
	base := []string{"-sS", "-D-", "-o", "/dev/null", "--max-time", "10",
		"--resolve", "localhost:" + strconv.Itoa(httpsPort) + ":127.0.0.1",
		"--resolve", "localhost:" + strconv.Itoa(httpPort) + ":127.0.0.1",
		"--cacert", filepath.Join(dataDir, "caddy", "pki", "authorities", "local", "root.crt")}
	out, err := exec.Command("curl", append(base, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// curlHeaders runs curl as an outside client and returns the response's
// status line and its Strict-Transport-Security field lines, as received.
func curlHeaders(t *testing.T, args ...string) (status string, sts []string) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(curlDump(t, args...)))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if status == "" {
			status = line
		}
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Strict-Transport-Security") {
			sts = append(sts, strings.TrimSpace(value))
		}
	}
	return status, sts
}

// TestHSTSCurl checks with curl what the issue reproduced with an Express
// app using helmet: a plain-HTTP site proxying to an upstream that sends
// its own header sends none, whatever X-Forwarded-Proto says, unless a
// trusted proxy says exactly https; and an HTTPS site whose header line
// tries to edit the value sends exactly one header, the hsts one, over
// HTTP/1.1 and HTTP/2.
func TestHSTSCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed (CI installs it); skipping the outside-client check")
	}
	upstream := strings.TrimPrefix(helmetUpstream(t).URL, "http://")
	sites := fmt.Sprintf(`
localhost {
	hsts
	header Strict-Transport-Security "includeSubDomains" "preload; evil"
	reverse_proxy %[1]s
}
http://localhost {
	hsts
	reverse_proxy %[1]s
}
`, upstream)
	trusted := "local_certs\n\tauto_https disable_redirects\n\tservers 127.0.0.1:{{http_port}} {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}"
	load(t, caddyfile(trusted, sites), "caddyfile")
	waitCert(t, "localhost", localRoot(t))

	httpsURL := "https://localhost:" + strconv.Itoa(httpsPort) + "/"
	httpURL := "http://localhost:" + strconv.Itoa(httpPort) + "/"
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"https_http1.1", []string{"--http1.1", httpsURL}, []string{wantSTS}},
		{"https_http2", []string{"--http2", httpsURL}, []string{wantSTS}},
		{"plain_http", []string{httpURL}, nil},
		{"trusted_proxy_says_http", []string{"-H", "X-Forwarded-Proto: http", httpURL}, nil},
		{"trusted_proxy_ambiguous", []string{"-H", "X-Forwarded-Proto: https, http", httpURL}, nil},
		{"trusted_proxy_says_https", []string{"-H", "X-Forwarded-Proto: https", httpURL}, []string{wantSTS}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, got := curlHeaders(t, tc.args...)
			if !strings.Contains(status, " 200") {
				t.Fatalf("status line %q", status)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("Strict-Transport-Security lines %q, want %q", got, tc.want)
			}
			if tc.name == "https_http2" && !strings.HasPrefix(status, "HTTP/2") {
				t.Errorf("status line %q, want HTTP/2", status)
			}
		})
	}

	// Without trusted_proxies, X-Forwarded-Proto is the client's word.
	load(t, caddyfile("local_certs\n\tauto_https disable_redirects", sites), "caddyfile")
	if status, got := curlHeaders(t, "-H", "X-Forwarded-Proto: https", httpURL); !strings.Contains(status, " 200") || len(got) != 0 {
		t.Errorf("forged X-Forwarded-Proto: %q with Strict-Transport-Security %q, want 200 and none", status, got)
	}
}
