// Package integration runs a real Caddy in-process with every hardtls
// module, configures it through its admin API and talks to it with real
// TLS clients. All tests that
// start Caddy live in this one package: they share fixed ports, and
// `go test ./...` runs packages in parallel.
//
// Ports: admin 2999, HTTP 9080, HTTPS 9443, each plus HARDTLS_TEST_PORT_OFFSET
// when set, so that two checkouts can run their tests at once. Every
// listener is on loopback only (see globals and requireLoopback).
package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	_ "github.com/hardtls/caddy-hardtls"
)

// ports and directories shared by every test of the package.
var (
	adminPort, httpPort, httpsPort int
	dataDir                        string
	logFile                        string
	binDir                         string // buildCaddy's output, removed with the rest
)

func TestMain(m *testing.M) {
	offset := 0
	if v := os.Getenv("HARDTLS_TEST_PORT_OFFSET"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "HARDTLS_TEST_PORT_OFFSET=%q is not a number\n", v)
			os.Exit(2)
		}
		offset = n
	}
	adminPort, httpPort, httpsPort = 2999+offset, 9080+offset, 9443+offset

	tmp, err := os.MkdirTemp("", "hardtls-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// Caddy's storage and local CA go here (the globals set it, since
	// Caddy reads XDG_DATA_HOME for its default storage when it is
	// imported, before TestMain), and its config autosave too.
	dataDir = filepath.Join(tmp, "data")
	logFile = filepath.Join(tmp, "caddy.log")
	binDir = filepath.Join(tmp, "bin")
	os.Setenv("XDG_DATA_HOME", dataDir)
	os.Setenv("XDG_CONFIG_HOME", filepath.Join(tmp, "config"))
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// expand replaces the harness tokens in a config: {{admin_port}},
// {{http_port}}, {{https_port}}, {{data_dir}}, {{log_file}}.
func expand(cfg string) string {
	return strings.NewReplacer(
		"{{admin_port}}", strconv.Itoa(adminPort),
		"{{http_port}}", strconv.Itoa(httpPort),
		"{{https_port}}", strconv.Itoa(httpsPort),
		"{{data_dir}}", dataDir,
		"{{log_file}}", logFile,
	).Replace(cfg)
}

// globals is the global options block every Caddyfile test starts with:
// test ports, every listener on loopback only (default_bind; the admin
// address is loopback already), no trust-store changes, no autosave, JSON
// logs to a file the tests can read.
const globals = `
	admin localhost:{{admin_port}}
	http_port {{http_port}}
	https_port {{https_port}}
	default_bind 127.0.0.1
	skip_install_trust
	persist_config off
	storage file_system {{data_dir}}/caddy
	log {
		output file {{log_file}}
		format json
		level DEBUG
	}
`

// caddyfile wraps site blocks in the test global options, with extra
// global options added to the block.
func caddyfile(extraGlobals, sites string) string {
	return expand("{" + globals + extraGlobals + "\n}\n" + sites)
}

// startOnce starts the in-process Caddy with nothing but the admin
// endpoint; every test then replaces its config through /load, as an
// operator would.
var startOnce = sync.OnceValue(func() error {
	return caddy.Load([]byte(fmt.Sprintf(`{"admin": {"listen": "localhost:%d"}}`, adminPort)), true)
})

// freshCertCache loads a config without a tls app, so that the next
// config starts a new certificate cache. Caddy's cache outlives reloads,
// and its maintenance ticker keeps the renew_interval of the config that
// created it: a test that needs its own renew_interval (ACME renewals
// within seconds) calls this first, whatever test ran before it.
func freshCertCache(t *testing.T) {
	t.Helper()
	load(t, expand(`{"admin": {"listen": "localhost:{{admin_port}}"}}`), "json")
}

// load starts Caddy if needed and loads a Caddyfile (or JSON when
// adapter is "json"), failing the test if the config is refused or if
// any listener of the process is outside loopback.
func load(t *testing.T, cfg, adapter string) {
	t.Helper()
	status, body := postLoad(t, cfg, adapter)
	if status != http.StatusOK {
		t.Fatalf("config was refused (status %d): %s\n%s", status, body, cfg)
	}
	requireLoopback(t)
}

// loadError posts a config to /load, expects it to be refused and returns
// Caddy's error text.
func loadError(t *testing.T, cfg, adapter string) string {
	t.Helper()
	status, body := postLoad(t, cfg, adapter)
	if status == http.StatusOK {
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

// postLoad starts Caddy if needed, posts cfg to the admin /load endpoint
// and returns Caddy's status and body once the listeners of the config it
// replaced are closed (waitHandOver).
//
// Every /load, refused or not, starts a new admin server beside the old
// one (SO_REUSEPORT) and stops the old one in the background. A POST that
// reaches the old server then is lost unanswered: Linux resets a
// connection still queued on a socket that closes ("connection reset by
// peer"), and Go's http.Server closes a connection whose request it read
// after its Shutdown began (EOF). waitHandOver keeps the harness's own
// requests clear of that; a POST lost anyway is sent again, a few times.
// That is safe: a refused config changes nothing, and an accepted one is
// either applied again or, being the running config already, skipped by
// Caddy ("config is unchanged").
func postLoad(t *testing.T, cfg, adapter string) (int, []byte) {
	t.Helper()
	if err := startOnce(); err != nil {
		t.Fatalf("starting Caddy: %v", err)
	}
	contentType := "application/json"
	if adapter != "json" {
		contentType = "text/" + adapter
	}
	// A fresh connection for every POST: a kept-alive one would be
	// closed under a later request when its admin server is replaced.
	admin := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := fmt.Sprintf("http://localhost:%d/load", adminPort)
	const attempts = 5
	for attempt := 1; ; attempt++ {
		status, body, err := func() (int, []byte, error) {
			resp, err := admin.Post(url, contentType, strings.NewReader(cfg))
			if err != nil {
				return 0, nil, err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			return resp.StatusCode, body, err
		}()
		if err == nil {
			waitHandOver(t)
			return status, body
		}
		if !connectionLost(err) || attempt == attempts {
			t.Fatalf("posting config to %s (attempt %d of %d): %v", url, attempt, attempts, err)
		}
		t.Logf("posting config: %v; sending it again", err)
		waitHandOver(t)
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
	}
}

// connectionLost reports whether err is a connection closed, reset or
// refused by the peer: what a listener closing under a connection does,
// as opposed to a timeout or a malformed answer.
func connectionLost(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// localRoot returns the pool holding the root of Caddy's local CA.
func localRoot(t *testing.T) *x509.CertPool {
	t.Helper()
	path := filepath.Join(dataDir, "caddy", "pki", "authorities", "local", "root.crt")
	var pemBytes []byte
	eventually(t, 20*time.Second, "the local CA root "+path, func() (bool, string) {
		b, err := os.ReadFile(path)
		pemBytes = b
		if err != nil {
			return false, err.Error()
		}
		return len(b) > 0, "an empty file"
	})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("no certificate in %s", path)
	}
	return pool
}

// waitCert polls the HTTPS port until Caddy serves a certificate for
// serverName that verifies against roots, and returns the leaf. Caddy
// obtains certificates in the background after a config loads.
func waitCert(t *testing.T, serverName string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	var leaf *x509.Certificate
	eventually(t, 60*time.Second, "a valid certificate for "+serverName, func() (bool, string) {
		cs, err := handshake(serverName, roots, nil)
		if err != nil {
			return false, err.Error()
		}
		leaf = cs.PeerCertificates[0]
		return true, ""
	})
	return leaf
}

// client returns an HTTP client that sends every request to 127.0.0.1
// (keeping the URL's port), verifies TLS against roots and does not
// follow redirects.
func client(roots *x509.CertPool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, err := net.SplitHostPort(addr)
				if err != nil {
					return nil, err
				}
				return dialer.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			},
			TLSClientConfig:   &tls.Config{RootCAs: roots},
			ForceAttemptHTTP2: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// client3 is an HTTP/3 client (quic-go's) that trusts roots and, like
// client, dials 127.0.0.1 whatever the URL's host.
func client3(t *testing.T, roots *x509.CertPool) *http.Client {
	t.Helper()
	tr := &http3.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		Dial: func(ctx context.Context, addr string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return quic.DialAddrEarly(ctx, net.JoinHostPort("127.0.0.1", port), tlsCfg, cfg)
		},
	}
	t.Cleanup(func() { _ = tr.Close() })
	return &http.Client{
		Timeout:       10 * time.Second,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// waitHTTP3 waits until Caddy answers url over HTTP/3 through c: its
// QUIC listener starts a moment after a config load returns.
func waitHTTP3(t *testing.T, c *http.Client, url string) {
	t.Helper()
	eventually(t, 10*time.Second, "Caddy answering HTTP/3 at "+url, func() (bool, string) {
		resp, err := c.Get(url)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return true, ""
	})
}

// get sends a GET with a fresh connection and returns the response with
// its body read.
func get(t *testing.T, c *http.Client, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if tr, ok := c.Transport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
	return resp, string(body)
}

// rawRequest writes a raw HTTP/1.1 request to the plain-HTTP port and
// returns the parsed response; it lets tests send what http.Client would
// refuse to (absolute-form targets, odd Host headers).
func rawRequest(t *testing.T, raw string) (*http.Response, error) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)), 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// logEntry is one line of Caddy's JSON log.
type logEntry map[string]any

// logMark returns the current size of the log, to read only newer lines.
func logMark() int64 {
	fi, err := os.Stat(logFile)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logsSince returns the log lines written after mark whose "msg" is msg
// (all lines when msg is empty), waiting up to wait for at least one.
func logsSince(t *testing.T, mark int64, msg string, wait time.Duration) []logEntry {
	t.Helper()
	var out []logEntry
	poll(wait, func() (bool, string) {
		out = nil
		b, err := os.ReadFile(logFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if int64(len(b)) > mark {
			for _, line := range bytes.Split(b[mark:], []byte("\n")) {
				var e logEntry
				if json.Unmarshal(line, &e) != nil {
					continue
				}
				if msg == "" || e["msg"] == msg {
					out = append(out, e)
				}
			}
		}
		return len(out) > 0, ""
	})
	return out
}

// waitLog waits up to wait for a log line after mark whose "msg" is msg and
// whose fields hold every value in want (numbers as float64, as JSON
// decodes them), and reports whether one was written.
func waitLog(t *testing.T, mark int64, msg string, want map[string]any, wait time.Duration) bool {
	t.Helper()
	ok, _ := poll(wait, func() (bool, string) {
		return slices.ContainsFunc(logsSince(t, mark, msg, 0), func(e logEntry) bool { return matches(e, want) }), ""
	})
	return ok
}

func matches(e logEntry, want map[string]any) bool {
	for k, v := range want {
		if e[k] != v {
			return false
		}
	}
	return true
}
