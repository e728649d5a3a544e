package integration

import (
	"bufio"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/pinreport"
)

// TestAdminEndpointsHardened runs the README's example and probes the
// admin routes of tlsguard and pinreport: no answer carries key material,
// both follow one rule for methods (GET and HEAD, anything else 405 with
// Allow: GET, HEAD), and huge or malformed paths get a 4xx, never a 5xx.
func TestAdminEndpointsHardened(t *testing.T) {
	load(t, exampleConfig(t, "Caddyfile"), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "localhost", roots)
	waitInventory(t, "localhost", 15*time.Second, "pinreport to list the certificate", func(pinreport.CertificateReport) bool { return true })

	// The private key Caddy stored for localhost, to look for in answers.
	keyPEM, err := os.ReadFile(filepath.Join(dataDir, "caddy", "certificates", "local", "localhost", "localhost.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		t.Fatal("no PEM block in the stored key")
	}
	keyB64 := base64.StdEncoding.EncodeToString(block.Bytes)
	keyHex := fmt.Sprintf("%x", block.Bytes)

	admin := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	doResp := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, fmt.Sprintf("http://localhost:%d%s", adminPort, path), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := admin.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	do := func(method, path string) (int, string) {
		t.Helper()
		resp, body := doResp(method, path)
		return resp.StatusCode, body
	}

	t.Run("no_key_material", func(t *testing.T) {
		for _, path := range []string{"/tlsguard/", "/pinreport/", "/pinreport/localhost",
			"/pinreport/?format=tlsa", "/pinreport/?format=okhttp", "/pinreport/?format=android", "/metrics"} {
			status, body := do(http.MethodGet, path)
			if status != http.StatusOK {
				t.Errorf("GET %s: %d", path, status)
			}
			for _, secret := range []string{"PRIVATE KEY", keyB64[:40], keyHex[:40]} {
				if strings.Contains(body, secret) {
					t.Errorf("GET %s returned key material (%q…)", path, secret[:10])
				}
			}
		}
	})

	t.Run("get_and_head_only", func(t *testing.T) {
		for _, path := range []string{"/tlsguard/", "/pinreport/", "/pinreport/localhost", "/tlsguard/x"} {
			for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
				resp, body := doResp(method, path)
				if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
					t.Errorf("%s %s: %d, Allow %q, %s; want 405 with Allow: GET, HEAD", method, path, resp.StatusCode, resp.Header.Get("Allow"), body)
				}
			}
		}
		// HEAD is GET without the body, on both endpoints.
		for _, path := range []string{"/tlsguard/", "/pinreport/", "/pinreport/localhost", "/pinreport/?format=tlsa"} {
			get, getBody := doResp(http.MethodGet, path)
			head, headBody := doResp(http.MethodHead, path)
			if get.StatusCode != http.StatusOK || head.StatusCode != http.StatusOK || headBody != "" || getBody == "" ||
				head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
				t.Errorf("%s: GET %d (%s, %d bytes), HEAD %d (%s, %d bytes); want HEAD to answer as GET without a body",
					path, get.StatusCode, get.Header.Get("Content-Type"), len(getBody), head.StatusCode, head.Header.Get("Content-Type"), len(headBody))
			}
		}
	})

	t.Run("malformed_paths", func(t *testing.T) {
		for _, path := range []string{
			"/tlsguard/x", "/tlsguard/%2e%2e/config",
			"/pinreport/nothing.example", "/pinreport/a/b", "/pinreport/%00",
			"/pinreport/?format=pdf", "/pinreport/?format=tlsa&port=99999", "/pinreport/?format=tlsa&proto=sctp",
			"/pinreport/" + strings.Repeat("a", 100000),
			"/pinreport/?format=" + strings.Repeat("x", 100000),
		} {
			status, _ := do(http.MethodGet, path)
			if status < 400 || status > 499 {
				shown := path
				if len(shown) > 60 {
					shown = shown[:60] + "…"
				}
				t.Errorf("GET %s: %d, want a 4xx", shown, status)
			}
		}
	})

	t.Run("raw_garbage", func(t *testing.T) {
		for _, raw := range []string{
			"GET /pinreport/\x00 HTTP/1.1\r\nHost: localhost\r\n\r\n",
			"GET /pinreport/%zz HTTP/1.1\r\nHost: localhost\r\n\r\n",
			"GET /pinreport/ HTTP/1.1\r\nHost: localhost\r\nX-Big: " + strings.Repeat("b", 2<<20) + "\r\n\r\n",
			"GET " + strings.Repeat("/pinreport", 200000) + " HTTP/1.1\r\nHost: localhost\r\n\r\n",
		} {
			conn, err := net.DialTimeout("tcp", net.JoinHostPort("localhost", strconv.Itoa(adminPort)), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			go io.WriteString(conn, raw) //nolint:errcheck // the server may close before reading it all
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			conn.Close()
			if err != nil {
				continue // the server closed the connection: refused, not served
			}
			if resp.StatusCode < 400 || resp.StatusCode > 499 {
				t.Errorf("raw request of %d bytes: %d, want a 4xx or a closed connection", len(raw), resp.StatusCode)
			}
		}
	})
}
