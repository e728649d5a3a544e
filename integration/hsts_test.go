package integration

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const wantSTS = "max-age=63072000; includeSubDomains"

// hstsSites serves one HTTPS site with hsts and every kind of response the
// header must survive, and a plain-HTTP site with the same handler.
func hstsSites(t *testing.T, upstream, root string) string {
	t.Helper()
	return caddyfile(`
	local_certs
	servers 127.0.0.1:{{http_port}} {
		trusted_proxies static 127.0.0.1/32
	}`, fmt.Sprintf(`
localhost {
	hsts
	header /header Strict-Transport-Security "max-age=5"
	respond /ok "ok"
	respond /header "header"
	error /err404 "nope" 404
	error /err500 "boom" 500
	error /teapot "short and stout" 418
	redir /redir /ok 308
	reverse_proxy /proxy %s
	file_server /static/* {
		root %s
	}
	handle_errors 418 {
		respond "handled {err.status_code}" 418
	}
}
http://localhost {
	hsts
	respond "plain"
}
`, upstream, root))
}

func TestHSTSHeaderOnEveryResponse(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=1")
		w.Header().Add("Strict-Transport-Security", "max-age=2; preload")
		fmt.Fprint(w, "upstream")
	}))
	defer upstream.Close()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "static"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "static", "big.txt"), []byte(strings.Repeat("x", 1<<20)), 0o644); err != nil {
		t.Fatal(err)
	}

	load(t, hstsSites(t, strings.TrimPrefix(upstream.URL, "http://"), root), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "localhost", roots)
	c := client(roots)
	base := "https://localhost:" + strconv.Itoa(httpsPort)

	cases := []struct {
		path   string
		status int
		body   string
	}{
		{"/ok", 200, "ok"},
		{"/header", 200, "header"},
		{"/err404", 404, ""},
		{"/err500", 500, ""},
		{"/teapot", 418, "handled 418"},
		{"/redir", 308, ""},
		{"/proxy", 200, "upstream"},
		{"/static/big.txt", 200, ""},
		{"/static/missing.txt", 404, ""},
	}
	for _, tc := range cases {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			resp, body := get(t, c, base+tc.path)
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.body != "" && body != tc.body {
				t.Errorf("body = %q, want %q", body, tc.body)
			}
			if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != wantSTS {
				t.Errorf("Strict-Transport-Security = %q, want exactly [%q]", got, wantSTS)
			}
		})
	}

	t.Run("http2", func(t *testing.T) {
		resp, _ := get(t, c, base+"/proxy")
		if resp.ProtoMajor != 2 {
			t.Fatalf("proto = %s, want HTTP/2", resp.Proto)
		}
		if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != wantSTS {
			t.Errorf("over HTTP/2: %q, want exactly [%q]", got, wantSTS)
		}
	})

	// HTTP/3 sends the header fields with the first body bytes, not at
	// WriteHeader, so a later handler has one more chance to edit them:
	// the same table over QUIC, with quic-go's client, on the UDP side of
	// the same port (Caddy serves h3 there by default).
	t.Run("http3", func(t *testing.T) {
		h3 := client3(t, roots)
		waitHTTP3(t, h3, base+"/ok")
		for _, tc := range cases {
			resp, body := get(t, h3, base+tc.path)
			if resp.ProtoMajor != 3 {
				t.Fatalf("%s: proto = %s, want HTTP/3", tc.path, resp.Proto)
			}
			if resp.StatusCode != tc.status || (tc.body != "" && body != tc.body) {
				t.Errorf("%s: %d %q, want %d %q", tc.path, resp.StatusCode, body, tc.status, tc.body)
			}
			if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != wantSTS {
				t.Errorf("%s over HTTP/3: Strict-Transport-Security = %q, want exactly [%q]", tc.path, got, wantSTS)
			}
		}
	})

	plain := "http://localhost:" + strconv.Itoa(httpPort) + "/"
	t.Run("plain_http", func(t *testing.T) {
		resp, body := get(t, c, plain)
		if body != "plain" {
			t.Fatalf("body = %q, want plain", body)
		}
		if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 0 {
			t.Errorf("plain HTTP response has Strict-Transport-Security %q", got)
		}
	})
	t.Run("trusted_proxy_https", func(t *testing.T) {
		resp, _ := get(t, c, plain, "X-Forwarded-Proto", "https")
		if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != wantSTS {
			t.Errorf("trusted proxy said https: %q, want [%q]", got, wantSTS)
		}
	})
	t.Run("trusted_proxy_http", func(t *testing.T) {
		resp, _ := get(t, c, plain, "X-Forwarded-Proto", "http")
		if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 0 {
			t.Errorf("trusted proxy said http: %q, want none", got)
		}
	})
	t.Run("trusted_proxy_ambiguous", func(t *testing.T) {
		resp, _ := get(t, c, plain, "X-Forwarded-Proto", "https, http")
		if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 0 {
			t.Errorf("ambiguous X-Forwarded-Proto: %q, want none", got)
		}
	})
}

func TestHSTSUntrustedProxyIgnored(t *testing.T) {
	load(t, caddyfile(`local_certs`, `
http://localhost {
	hsts
	respond "plain"
}
`), "caddyfile")
	c := client(nil)
	resp, body := get(t, c, "http://localhost:"+strconv.Itoa(httpPort)+"/", "X-Forwarded-Proto", "https")
	if body != "plain" {
		t.Fatalf("body = %q", body)
	}
	if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 0 {
		t.Errorf("untrusted X-Forwarded-Proto: https gave Strict-Transport-Security %q", got)
	}
}

// TestHSTSRampAdvancesByClock serves a ramp of 1 s and 2 s stages and checks
// that the served max-age rises by the clock, without a reload.
func TestHSTSRampAdvancesByClock(t *testing.T) {
	start := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second)
	mark := logMark()
	load(t, caddyfile(`local_certs`, fmt.Sprintf(`
localhost {
	hsts {
		max_age 300
		ramp {
			start %s
			stage 1
			stage 2
		}
	}
	respond "ok"
}
`, start.Format(time.RFC3339))), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "localhost", roots)
	c := client(roots)
	url := "https://localhost:" + strconv.Itoa(httpsPort) + "/"

	var seen []string
	for deadline := start.Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, _ := get(t, c, url)
		v := resp.Header.Get("Strict-Transport-Security")
		if len(seen) == 0 || seen[len(seen)-1] != v {
			seen = append(seen, v)
		}
	}
	want := []string{"max-age=1; includeSubDomains", "max-age=2; includeSubDomains", "max-age=300; includeSubDomains"}
	if strings.Join(seen, " | ") != strings.Join(want, " | ") {
		t.Errorf("served values in order = %q, want %q", seen, want)
	}
	warns := logsSince(t, mark, "risky hsts max_age", 5*time.Second)
	if len(warns) == 0 || warns[0]["code"] != "header.recommendation.max_age.below_18_weeks" {
		t.Errorf("want a below_18_weeks warning in the log, got %v", warns)
	}
}
