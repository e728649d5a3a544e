package integration

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// helmetUpstream answers like an Express app with helmet's defaults: its
// own Strict-Transport-Security on every response, over plain HTTP too.
func helmetUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fmt.Fprint(w, "upstream")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// headerOps lists every form of Caddy's response header operations on
// Strict-Transport-Security, as the headers handler's JSON (the Caddyfile
// `header` directive produces the same), and reverse_proxy's header_down.
// A replace on every field ("*") is left to the hstspolicy unit tests: in
// Caddy v2.11.9 it also rewrites the Server header's value slice, which
// Caddy shares between all responses, a data race of Caddy's own.
var headerOps = map[string]string{
	"set":              `{"handler": "headers", "response": {"set": {"Strict-Transport-Security": ["max-age=1"]}}}`,
	"add":              `{"handler": "headers", "response": {"add": {"Strict-Transport-Security": ["max-age=2; preload"]}}}`,
	"replace_plain":    `{"handler": "headers", "response": {"replace": {"Strict-Transport-Security": [{"search": "includeSubDomains", "replace": "preload; evil"}]}}}`,
	"replace_regex":    `{"handler": "headers", "response": {"replace": {"Strict-Transport-Security": [{"search_regexp": "max-age=\\d+", "replace": "max-age=1"}]}}}`,
	"delete":           `{"handler": "headers", "response": {"delete": ["Strict-Transport-Security"], "deferred": true}}`,
	"defer_set":        `{"handler": "headers", "response": {"set": {"Strict-Transport-Security": ["max-age=3"]}, "deferred": true}}`,
	"defer_add":        `{"handler": "headers", "response": {"add": {"Strict-Transport-Security": ["max-age=4"]}, "deferred": true}}`,
	"defer_replace":    `{"handler": "headers", "response": {"replace": {"Strict-Transport-Security": [{"search": "includeSubDomains", "replace": "preload; evil"}]}, "deferred": true}}`,
	"default_if_unset": `{"handler": "headers", "response": {"set": {"Strict-Transport-Security": ["max-age=5"]}, "require": {"headers": {"Strict-Transport-Security": null}}}}`,
}

// proxyOps are reverse_proxy handlers to the helmet upstream, bare and
// with each header_down form.
var proxyOps = map[string]string{
	"proxy":                 `{}`,
	"proxy_header_down":     `{"response": {"set": {"Strict-Transport-Security": ["max-age=6; preload"]}}}`,
	"proxy_header_down_rx":  `{"response": {"replace": {"Strict-Transport-Security": [{"search_regexp": "\\d+", "replace": "1"}]}}}`,
	"proxy_header_down_rm":  `{"response": {"delete": ["Strict-Transport-Security"]}}`,
	"proxy_header_down_add": `{"response": {"add": {"Strict-Transport-Security": ["max-age=7"]}}}`,
}

// headerOpsConfig serves /<op> for every operation behind hsts, over HTTPS
// and over plain HTTP.
func headerOpsConfig(upstream string) string {
	var routes []string
	for name, op := range headerOps {
		routes = append(routes, fmt.Sprintf(`{"match": [{"path": ["/%s"]}], "handle": [{"handler": "hsts"}, %s, {"handler": "static_response", "body": "ok"}], "terminal": true}`, name, op))
	}
	for name, hdrs := range proxyOps {
		routes = append(routes, fmt.Sprintf(`{"match": [{"path": ["/%s"]}], "handle": [{"handler": "hsts"}, {"handler": "reverse_proxy", "upstreams": [{"dial": %q}], "headers": %s}], "terminal": true}`, name, upstream, hdrs))
	}
	list := strings.Join(routes, ",\n")
	return expand(`{
	"admin": {"listen": "localhost:{{admin_port}}"},
	"storage": {"module": "file_system", "root": "{{data_dir}}/caddy"},
	"logging": {"logs": {"default": {"writer": {"output": "file", "filename": "{{log_file}}"}, "encoder": {"format": "json"}, "level": "DEBUG"}}},
	"apps": {
		"pki": {"certificate_authorities": {"local": {"install_trust": false}}},
		"tls": {"automation": {"policies": [{"issuers": [{"module": "internal"}]}]}},
		"http": {
			"http_port": {{http_port}},
			"https_port": {{https_port}},
			"servers": {
				"https": {
					"listen": ["127.0.0.1:{{https_port}}"],
					"automatic_https": {"disable_redirects": true},
					"routes": [{"match": [{"host": ["localhost"]}], "handle": [{"handler": "subroute", "routes": [` + list + `]}], "terminal": true}]
				},
				"plain": {
					"listen": ["127.0.0.1:{{http_port}}"],
					"routes": [` + list + `]
				}
			}
		}
	}
}`)
}

// protoClient returns a client that speaks only HTTP/1.1 or also HTTP/2
// to 127.0.0.1, trusting roots.
func protoClient(roots *x509.CertPool, http2 bool) *http.Client {
	c := client(roots)
	tr := c.Transport.(*http.Transport)
	if !http2 {
		tr.ForceAttemptHTTP2 = false
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"}}
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return c
}

// TestHSTSHeaderOpsCannotChangeIt sends concurrent requests over HTTP/1.1,
// HTTP/2 and HTTP/3 (quic-go's client; HTTPS only) to routes where a later handler sets, adds, replaces (plain,
// regexp, every field), deletes or defers an operation on the header, or a
// reverse_proxy copies or rewrites an upstream's: over HTTPS every response
// carries exactly the hsts value; over plain HTTP none. Run under -race,
// it also checks that no pooled writer is shared unsafely.
func TestHSTSHeaderOpsCannotChangeIt(t *testing.T) {
	upstream := helmetUpstream(t)
	load(t, headerOpsConfig(strings.TrimPrefix(upstream.URL, "http://")), "json")
	roots := localRoot(t)
	waitCert(t, "localhost", roots)

	var paths []string
	for name := range headerOps {
		paths = append(paths, name)
	}
	for name := range proxyOps {
		paths = append(paths, name)
	}
	https := "https://localhost:" + strconv.Itoa(httpsPort)
	both := []string{https, "http://localhost:" + strconv.Itoa(httpPort)}
	for _, proto := range []struct {
		name  string
		c     *http.Client
		bases []string
	}{
		{"HTTP/1.1", protoClient(roots, false), both},
		{"HTTP/2.0", protoClient(roots, true), both},
		{"HTTP/3.0", client3(t, roots), []string{https}},
	} {
		c := proto.c
		if proto.name == "HTTP/3.0" {
			waitHTTP3(t, c, https+"/"+paths[0])
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failures []string
		fail := func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			if len(failures) < 20 {
				failures = append(failures, fmt.Sprintf(format, args...))
			}
		}
		for worker := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 5 * len(paths) {
					path := paths[(i+worker)%len(paths)]
					for _, base := range proto.bases {
						resp, err := c.Get(base + "/" + path)
						if err != nil {
							fail("%s %s: %v", base, path, err)
							continue
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						got := resp.Header.Values("Strict-Transport-Security")
						secure := strings.HasPrefix(base, "https")
						switch {
						case resp.StatusCode != http.StatusOK:
							fail("%s/%s: status %d", base, path, resp.StatusCode)
						case secure && resp.Proto != proto.name:
							fail("%s/%s: %s, want %s", base, path, resp.Proto, proto.name)
						case secure && (len(got) != 1 || got[0] != wantSTS):
							fail("%s/%s over %s: Strict-Transport-Security %q, want exactly [%q]", base, path, resp.Proto, got, wantSTS)
						case !secure && len(got) != 0:
							fail("%s/%s over plain HTTP: Strict-Transport-Security %q, want none", base, path, got)
						}
					}
				}
			}()
		}
		wg.Wait()
		for _, f := range failures {
			t.Error(f)
		}
		c.CloseIdleConnections()
	}
}

// TestHSTSHandleErrors pins what the README says about error routes: the
// handle_errors routes start from a map that holds the hsts value (HTTPS)
// or none (plain HTTP), and only a site that has hsts in its
// handle_errors block too keeps a `header` line there from changing it.
func TestHSTSHandleErrors(t *testing.T) {
	sites := `
localhost, app.localhost, http://localhost, http://app.localhost {
	hsts
	error /boom "boom" 500
	respond "ok"
	@guarded host app.localhost
	handle_errors {
		route {
			hsts @guarded
			header Strict-Transport-Security "max-age=1"
			respond "handled {err.status_code}"
		}
	}
}
`
	load(t, caddyfile("local_certs\n\tauto_https disable_redirects", sites), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "localhost", roots)
	waitCert(t, "app.localhost", roots)
	c := client(roots)
	for _, tc := range []struct {
		url  string
		want []string
	}{
		// hsts in handle_errors: its value, or none over plain HTTP.
		{"https://app.localhost:" + strconv.Itoa(httpsPort) + "/boom", []string{wantSTS}},
		{"http://app.localhost:" + strconv.Itoa(httpPort) + "/boom", nil},
		// No hsts in handle_errors: the header line there wins, over
		// HTTPS and plain HTTP alike (the documented limit).
		{"https://localhost:" + strconv.Itoa(httpsPort) + "/boom", []string{"max-age=1"}},
		{"http://localhost:" + strconv.Itoa(httpPort) + "/boom", []string{"max-age=1"}},
	} {
		resp, body := get(t, c, tc.url)
		if resp.StatusCode != 500 || body != "handled 500" {
			t.Errorf("%s: %d %q, want 500 from handle_errors", tc.url, resp.StatusCode, body)
		}
		if got := resp.Header.Values("Strict-Transport-Security"); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: Strict-Transport-Security %q, want %q", tc.url, got, tc.want)
		}
	}
}
