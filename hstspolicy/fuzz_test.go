package hstspolicy

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// The committed corpora under testdata/fuzz/ hold the hostile hosts of
// the integration tests and the header forms of hstspreload's tests; `go
// test` replays them, and `go test -fuzz` grows from them.

func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{"max-age=63072000; includeSubDomains; preload", "max-age=0", "", ";;", "MAX-AGE=1;includesubdomains", "max-age=\"1\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		h, issues := ParseHeader(value)
		if len(issues.Errors()) > 0 || h.MaxAge == nil {
			return
		}
		// A header that parsed without errors renders to a canonical form
		// that parses to the same meaning without any finding.
		rendered := h.String()
		again, issues2 := ParseHeader(rendered)
		if len(issues2) != 0 || again.String() != rendered {
			t.Fatalf("%q rendered as %q, which parses to %q with %v", value, rendered, again.String(), issues2)
		}
		_ = PreloadIssues(h)
		_ = RecommendationIssues(h)
	})
}

func FuzzParseSeconds(f *testing.F) {
	for _, s := range []string{"63072000", "730d", "1d12h", "-5m", "1.5s", "99999999999999999999", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSeconds(s)
		if err == nil && n < 0 {
			t.Fatalf("ParseSeconds(%q) = %d, negative without error", s, n)
		}
	})
}

func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"example.com", "EXAMPLE.com.:80", "[::1]:443", "bücher.example", "a@b", "127.1", "[fe80::1%25eth0]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, err := NormalizeHost(s)
		if err != nil {
			return
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == ':' || c == '[' || c == ']') {
				t.Fatalf("NormalizeHost(%q) = %q holds byte %q", s, host, c)
			}
		}
		if again, err := NormalizeHost(host); err != nil || again != host {
			t.Fatalf("NormalizeHost is not idempotent on %q: %q, %v", host, again, err)
		}
		if u, err := url.Parse("https://" + host + "/"); err != nil || u.Host != host {
			t.Fatalf("%q does not stand as a URL host: %v", host, err)
		}
	})
}

// FuzzRedirect drives the https_redirect handler with arbitrary Host
// values and request targets: whatever it answers, a Location may only
// name an allowed host on the HTTPS port.
func FuzzRedirect(f *testing.F) {
	for _, seed := range [][2]string{
		{"example.com", "/a?b=c"},
		{"evil.example", "/"},
		{"example.com@evil.example", "/"},
		{"www.example.com:8080", "//evil.example/x"},
		{"a.tenant.example", "/\\evil"},
		{"[::1]", "/%0d%0aLocation:%20http://evil"},
	} {
		f.Add(seed[0], seed[1])
	}
	rd := &Redirect{Hosts: []string{"example.com", "www.example.com", "*.tenant.example", "::1"}, Port: 8443}
	if err := rd.Provision(testContext(f)); err != nil {
		f.Fatal(err)
	}
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return nil })
	f.Fuzz(func(t *testing.T, host, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return // net/http would have refused the request line
		}
		r := &http.Request{Method: http.MethodGet, Host: host, URL: u, Header: http.Header{}, RequestURI: target}
		r = r.WithContext(testContext(t))
		rec := httptest.NewRecorder()
		if err := rd.ServeHTTP(rec, r, next); err != nil {
			t.Fatal(err)
		}
		for _, loc := range rec.Header().Values("Location") {
			lu, err := url.Parse(loc)
			if err != nil {
				t.Fatalf("Location %q does not parse: %v", loc, err)
			}
			h := lu.Hostname()
			if lu.Scheme != "https" || lu.User != nil || lu.Port() != "8443" || strings.ContainsAny(loc, "\r\n") {
				t.Fatalf("host %q target %q: bad Location %q", host, target, loc)
			}
			if strings.Contains(h, ":") {
				h = "[" + h + "]"
			}
			if !rd.hosts().Allows(h) {
				t.Fatalf("host %q target %q: Location %q leaves the allow-list", host, target, loc)
			}
		}
	})
}

// FuzzHSTSWriter drives the hsts handler with arbitrary sequences of what a
// later handler can do to a response — set, add, edit in place or delete
// the header, send 103, write the status, write, flush, read from, return
// an error — over HTTPS and plain HTTP, against a server that sends the
// header at WriteHeader and one that sends it with the body: the client
// must get exactly the handler's value over HTTPS and none over plain HTTP.
func FuzzHSTSWriter(f *testing.F) {
	for _, seed := range []string{"\x00\x05", "\x02\x04\x06", "\x04\x02\x06\x01", "\x03\x08", "\x01\x07\x02\x06", "\x09"} {
		f.Add([]byte(seed), true, false)
		f.Add([]byte(seed), false, true)
	}
	h := provisioned(f, new(Handler))
	f.Fuzz(func(t *testing.T, ops []byte, secure, late bool) {
		if len(ops) > 16 {
			ops = ops[:16]
		}
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			for _, op := range ops {
				hdr := w.Header()
				switch op % 10 {
				case 0:
					hdr.Set(headerKey, "max-age=1")
				case 1:
					hdr.Add(headerKey, "max-age=2; preload")
				case 2:
					if v := hdr[headerKey]; len(v) > 0 {
						v[0] = "edited"
					}
				case 3:
					hdr.Del(headerKey)
				case 4:
					w.WriteHeader(http.StatusEarlyHints)
				case 5:
					w.WriteHeader(http.StatusAccepted)
				case 6:
					_, _ = w.Write([]byte("x"))
				case 7:
					_ = http.NewResponseController(w).Flush()
				case 8:
					_, _ = w.(io.ReaderFrom).ReadFrom(strings.NewReader("y"))
				case 9:
					return caddyhttp.Error(http.StatusTeapot, errors.New("later handler failed"))
				}
			}
			return nil
		})
		r := proxied(false, "https")
		if secure {
			r = tlsRequest()
		}
		rec := &clientRecorder{ResponseRecorder: httptest.NewRecorder(), late: late}
		if err := h.ServeHTTP(rec, r, next); err != nil {
			errorRoute(rec, err)
		}
		rec.send()
		resp := rec.Result()
		got := resp.Header.Values(headerKey)
		if secure && (len(got) != 1 || got[0] != wantSTS) || !secure && len(got) != 0 {
			t.Fatalf("ops %v, secure %v, late %v: Strict-Transport-Security %q", ops, secure, late, got)
		}
		for _, hdr := range rec.interim {
			if got := hdr.Values(headerKey); secure && (len(got) != 1 || got[0] != wantSTS) || !secure && len(got) != 0 {
				t.Fatalf("ops %v: informational response with %q", ops, got)
			}
		}
	})
}
