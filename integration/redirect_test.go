package integration

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// redirectSites owns the plain-HTTP port with https_redirect; the default
// allow-list is the HTTPS sites' names: localhost, app.localhost and
// *.tenant.localhost.
const redirectSites = `
localhost, app.localhost, *.tenant.localhost {
	hsts
	respond "secure {host}"
}
http:// {
	https_redirect
}
`

// TestRedirectHostileRequests sends well over 50 hostile or odd requests to
// the plain-HTTP port. No response may carry a Location outside the
// allow-list; each gets the status it should, and legitimate hosts keep
// path, query and port.
func TestRedirectHostileRequests(t *testing.T) {
	mark := logMark()
	load(t, caddyfile("local_certs\n\tauto_https disable_redirects", redirectSites), "caddyfile")
	https := "https://%s:" + strconv.Itoa(httpsPort)
	loc := func(host, pathQuery string) string {
		return strings.Replace(https, "%s", host, 1) + pathQuery
	}
	long := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + ".localhost"

	cases := []struct {
		name     string
		raw      string // request line and headers, without the final blank line
		status   int
		location string // exact Location wanted with 308; "" for none
	}{
		// Hosts that are well-formed but not allowed: 421, no Location.
		{"other_host", "GET / HTTP/1.1\r\nHost: evil.example", 421, ""},
		{"other_host_upper", "GET / HTTP/1.1\r\nHost: EVIL.example", 421, ""},
		{"suffix_of_allowed", "GET / HTTP/1.1\r\nHost: localhost.evil.example", 421, ""},
		{"prefix_glued", "GET / HTTP/1.1\r\nHost: evillocalhost", 421, ""},
		{"ipv4_not_listed", "GET / HTTP/1.1\r\nHost: 127.0.0.1", 421, ""},
		{"ipv6_not_listed", "GET / HTTP/1.1\r\nHost: [::1]", 421, ""},
		{"ipv4_mapped_ipv6", "GET / HTTP/1.1\r\nHost: [::ffff:127.0.0.1]", 421, ""},
		{"unspecified_ip", "GET / HTTP/1.1\r\nHost: 0.0.0.0", 421, ""},
		{"metadata_ip", "GET / HTTP/1.1\r\nHost: 169.254.169.254", 421, ""},
		{"wildcard_apex", "GET / HTTP/1.1\r\nHost: tenant.localhost", 421, ""},
		{"wildcard_two_labels", "GET / HTTP/1.1\r\nHost: a.b.tenant.localhost", 421, ""},
		{"punycode_lookalike", "GET / HTTP/1.1\r\nHost: xn--lcalhost-9wf", 421, ""},
		{"other_host_port", "GET / HTTP/1.1\r\nHost: evil.example:80", 421, ""},
		{"localdomain", "GET / HTTP/1.1\r\nHost: localhost.localdomain", 421, ""},
		{"long_name", "GET / HTTP/1.1\r\nHost: " + long, 421, ""},
		{"absolute_form_other", "GET http://evil.example/ HTTP/1.1\r\nHost: localhost", 421, ""},
		{"absolute_form_https_other", "GET https://evil.example/x HTTP/1.1\r\nHost: localhost", 421, ""},
		{"absolute_form_userinfo_host", "GET http://localhost@evil.example/ HTTP/1.1\r\nHost: localhost", 421, ""},
		{"absolute_form_port_trick", "GET http://evil.example:9080/ HTTP/1.1\r\nHost: localhost:9080", 421, ""},

		// Malformed authorities: 400, no Location (from net/http or from us).
		{"userinfo", "GET / HTTP/1.1\r\nHost: localhost@evil.example", 400, ""},
		{"userinfo_port", "GET / HTTP/1.1\r\nHost: localhost:9080@evil.example", 400, ""},
		{"credentials", "GET / HTTP/1.1\r\nHost: user:pass@localhost", 400, ""},
		{"backslash", "GET / HTTP/1.1\r\nHost: evil.example\\localhost", 400, ""},
		{"backslash_at", "GET / HTTP/1.1\r\nHost: localhost\\@evil.example", 400, ""},
		{"slash", "GET / HTTP/1.1\r\nHost: localhost/evil.example", 400, ""},
		{"double_slash", "GET / HTTP/1.1\r\nHost: //evil.example", 400, ""},
		{"percent_slash", "GET / HTTP/1.1\r\nHost: localhost%2F@evil.example", 400, ""},
		{"percent_nul", "GET / HTTP/1.1\r\nHost: localhost%00.evil.example", 400, ""},
		{"port_too_big", "GET / HTTP/1.1\r\nHost: localhost:99999", 400, ""},
		{"port_letters", "GET / HTTP/1.1\r\nHost: localhost:abc", 400, ""},
		{"port_empty", "GET / HTTP/1.1\r\nHost: localhost:", 400, ""},
		{"port_twice", "GET / HTTP/1.1\r\nHost: localhost:9080:9080", 400, ""},
		{"port_only", "GET / HTTP/1.1\r\nHost: :9080", 400, ""},
		{"empty_host", "GET / HTTP/1.1\r\nHost: ", 400, ""},
		{"missing_host_http11", "GET / HTTP/1.1", 400, ""},
		{"missing_host_http10", "GET / HTTP/1.0", 400, ""},
		{"two_hosts", "GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example", 400, ""},
		{"space", "GET / HTTP/1.1\r\nHost: local host", 400, ""},
		{"comma_list", "GET / HTTP/1.1\r\nHost: localhost,evil.example", 400, ""},
		{"semicolon", "GET / HTTP/1.1\r\nHost: localhost;evil.example", 400, ""},
		{"double_dot", "GET / HTTP/1.1\r\nHost: localhost..", 400, ""},
		{"leading_dot", "GET / HTTP/1.1\r\nHost: .localhost", 400, ""},
		{"leading_hyphen", "GET / HTTP/1.1\r\nHost: -localhost", 400, ""},
		{"underscore", "GET / HTTP/1.1\r\nHost: app_x.localhost", 400, ""},
		{"ipv4_short", "GET / HTTP/1.1\r\nHost: 127.1", 400, ""},
		{"ipv4_hex", "GET / HTTP/1.1\r\nHost: 0x7f.0.0.1", 400, ""},
		{"ipv4_decimal", "GET / HTTP/1.1\r\nHost: 2130706433", 400, ""},
		{"literal_wildcard", "GET / HTTP/1.1\r\nHost: *.tenant.localhost", 400, ""},
		{"ipv6_zone", "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]", 400, ""},
		{"ipv6_name", "GET / HTTP/1.1\r\nHost: [evil.example]", 400, ""},
		{"ipv6_unclosed", "GET / HTTP/1.1\r\nHost: [::1", 400, ""},
		{"ipv6_bare", "GET / HTTP/1.1\r\nHost: ::1", 400, ""},
		{"too_long", "GET / HTTP/1.1\r\nHost: " + strings.Repeat("a.", 160) + "localhost", 400, ""},
		{"connect", "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443", 421, ""},
		// net/http answers OPTIONS * itself, before any handler.
		{"asterisk_form", "OPTIONS * HTTP/1.1\r\nHost: evil.example", 200, ""},

		// Allowed hosts: a 308 to the same host on the HTTPS port, with
		// path and query kept. Odd targets stay under the allowed host.
		{"plain", "GET / HTTP/1.1\r\nHost: localhost", 308, loc("localhost", "/")},
		{"path_query", "GET /a/b%20c?x=1&y=%2F HTTP/1.1\r\nHost: localhost", 308, loc("localhost", "/a/b%20c?x=1&y=%2F")},
		{"trailing_dot_upper", "GET /p HTTP/1.1\r\nHost: LOCALHOST.", 308, loc("localhost", "/p")},
		{"mixed_case_port", "GET /p HTTP/1.1\r\nHost: App.LocalHost:9080", 308, loc("app.localhost", "/p")},
		{"request_port_ignored", "GET / HTTP/1.1\r\nHost: localhost:1", 308, loc("localhost", "/")},
		{"wildcard_member", "GET /t HTTP/1.1\r\nHost: acme.tenant.localhost", 308, loc("acme.tenant.localhost", "/t")},
		{"http10_with_host", "GET /old HTTP/1.0\r\nHost: localhost", 308, loc("localhost", "/old")},
		{"post", "POST /form HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc", 308, loc("localhost", "/form")},
		{"absolute_form_allowed", "GET http://app.localhost/x?y HTTP/1.1\r\nHost: evil.example", 308, loc("app.localhost", "/x?y")},
		{"absolute_form_userinfo_dropped", "GET http://evil.example@localhost/ HTTP/1.1\r\nHost: localhost", 308, loc("localhost", "/")},
		{"scheme_relative_path", "GET //evil.example/p HTTP/1.1\r\nHost: localhost", 308, loc("localhost", "//evil.example/p")},
		{"backslash_path", "GET /\\evil.example HTTP/1.1\r\nHost: localhost", 308, loc("localhost", "/%5Cevil.example")},
		{"encoded_crlf_path", "GET /%0d%0aLocation:%20http://evil.example HTTP/1.1\r\nHost: localhost", 308, loc("localhost", "/%0d%0aLocation:%20http://evil.example")},
		{"encoded_crlf_query", "GET /?q=%0d%0aSet-Cookie:x HTTP/1.1\r\nHost: localhost", 308, loc("localhost", "/?q=%0d%0aSet-Cookie:x")},
	}
	if len(cases) < 50 {
		t.Fatalf("only %d cases", len(cases))
	}
	allowed := func(host string) bool {
		return host == "localhost" || host == "app.localhost" ||
			strings.HasSuffix(host, ".tenant.localhost") && !strings.Contains(strings.TrimSuffix(host, ".tenant.localhost"), ".")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.raw
			if !strings.Contains(raw, "\r\n\r\n") {
				raw += "\r\n\r\n"
			}
			resp, err := rawRequest(t, strings.Replace(raw, "\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1))
			if err != nil {
				t.Fatalf("reading response: %v", err)
			}
			locations := resp.Header.Values("Location")
			for _, l := range locations {
				u, err := url.Parse(l)
				if err != nil || u.Scheme != "https" || !allowed(u.Hostname()) || u.Port() != strconv.Itoa(httpsPort) || u.User != nil {
					t.Fatalf("Location %q leads outside the allow-list", l)
				}
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			switch {
			case tc.location == "" && len(locations) > 0:
				t.Errorf("Location = %q, want none", locations)
			case tc.location != "" && (len(locations) != 1 || locations[0] != tc.location):
				t.Errorf("Location = %q, want [%q]", locations, tc.location)
			}
			if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 0 {
				t.Errorf("plain-HTTP response carries Strict-Transport-Security %q", got)
			}
		})
	}

	// Refusals are counted by reason and logged at debug level: the host
	// is the client's choice, and info lines would be a log-flood lever.
	if !waitLog(t, mark, "refused https redirect", map[string]any{"host": "evil.example", "status": float64(421), "reason": "host_not_allowed", "level": "debug"}, 5*time.Second) {
		t.Errorf("no debug 'refused https redirect' log line for host evil.example with status 421 among %d lines",
			len(logsSince(t, mark, "refused https redirect", 0)))
	}
	for _, e := range logsSince(t, mark, "refused https redirect", 0) {
		if e["level"] != "debug" {
			t.Errorf("refusal logged at %v: %v", e["level"], e)
		}
	}
	notAllowed := 0
	for _, tc := range cases {
		if tc.status == 421 {
			notAllowed++
		}
	}
	families := scrape(t)
	if got, ok := families.value("https_redirect_refusals_total", map[string]string{"reason": "host_not_allowed"}); !ok || got != float64(notAllowed) {
		t.Errorf("https_redirect_refusals_total{reason=\"host_not_allowed\"} = %v (present %v), want %d", got, ok, notAllowed)
	}
	if got, _ := families.value("https_redirect_refusals_total", map[string]string{"reason": "malformed_host"}); got == 0 {
		t.Error("no malformed_host refusal counted")
	}
	if n := len(families["https_redirect_refusals_total"].GetMetric()); n != 4 {
		t.Errorf("%d reason series, want the 4 fixed reasons", n)
	}
}

// TestRedirectCanonicalHost checks the preload rule (same host first over
// HTTP, then the canonical host over HTTPS with HSTS on that redirect), an
// explicit allow-list and status 301.
func TestRedirectCanonicalHost(t *testing.T) {
	load(t, caddyfile("local_certs\n\tauto_https disable_redirects", `
localhost, www.localhost {
	hsts
	https_redirect {
		canonical_host localhost
	}
	respond "secure {host}"
}
http:// {
	https_redirect 301 {
		hosts localhost www.localhost
	}
}
`), "caddyfile")
	roots := localRoot(t)
	waitCert(t, "www.localhost", roots)
	waitCert(t, "localhost", roots)
	c := client(roots)
	httpsBase := "https://%s:" + strconv.Itoa(httpsPort) + "/p?q=1"

	resp, _ := get(t, c, "http://www.localhost:"+strconv.Itoa(httpPort)+"/p?q=1")
	if want := strings.Replace(httpsBase, "%s", "www.localhost", 1); resp.StatusCode != 301 || resp.Header.Get("Location") != want {
		t.Errorf("HTTP www: %d %q, want 301 %q (same host first)", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	resp, _ = get(t, c, strings.Replace(httpsBase, "%s", "www.localhost", 1))
	if want := strings.Replace(httpsBase, "%s", "localhost", 1); resp.StatusCode != 308 || resp.Header.Get("Location") != want {
		t.Errorf("HTTPS www: %d %q, want 308 %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if got := resp.Header.Values("Strict-Transport-Security"); len(got) != 1 || got[0] != wantSTS {
		t.Errorf("canonical redirect over HTTPS: Strict-Transport-Security %q, want [%q]", got, wantSTS)
	}
	resp, body := get(t, c, strings.Replace(httpsBase, "%s", "localhost", 1))
	if resp.StatusCode != 200 || body != "secure localhost" {
		t.Errorf("HTTPS canonical: %d %q, want 200 \"secure localhost\"", resp.StatusCode, body)
	}
	resp, _ = get(t, c, "http://other.localhost:"+strconv.Itoa(httpPort)+"/")
	if resp.StatusCode != 421 || resp.Header.Get("Location") != "" {
		t.Errorf("HTTP host off the explicit list: %d %q, want 421 and no Location", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestRedirectBehindTrustedProxy: behind a TLS-terminating proxy listed in
// trusted_proxies, X-Forwarded-Proto: https passes through to the next
// handler (with HSTS) and http is redirected; from a client that is not a
// trusted proxy the header counts for nothing.
func TestRedirectBehindTrustedProxy(t *testing.T) {
	for _, tc := range []struct {
		name, trusted string
		proto         string // X-Forwarded-Proto sent; "" for none
		pass          bool   // passed through rather than redirected
	}{
		{"trusted_https", "127.0.0.1/32", "https", true},
		{"trusted_http", "127.0.0.1/32", "http", false},
		{"trusted_none", "127.0.0.1/32", "", false},
		{"untrusted_https", "10.0.0.0/8", "https", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			load(t, caddyfile("local_certs\n\tauto_https disable_redirects\n\tservers 127.0.0.1:{{http_port}} {\n\t\ttrusted_proxies static "+tc.trusted+"\n\t}", `
localhost {
	respond "secure"
}
http://localhost {
	hsts
	https_redirect
	respond "passed through"
}
`), "caddyfile")
			var header []string
			if tc.proto != "" {
				header = []string{"X-Forwarded-Proto", tc.proto}
			}
			resp, body := get(t, client(nil), "http://localhost:"+strconv.Itoa(httpPort)+"/x?y=1", header...)
			sts := resp.Header.Values("Strict-Transport-Security")
			if tc.pass {
				if resp.StatusCode != 200 || body != "passed through" || len(sts) != 1 || sts[0] != wantSTS {
					t.Errorf("%d %q, HSTS %q; want 200 passed through with [%q]", resp.StatusCode, body, sts, wantSTS)
				}
				return
			}
			want := "https://localhost:" + strconv.Itoa(httpsPort) + "/x?y=1"
			if resp.StatusCode != 308 || resp.Header.Get("Location") != want || len(sts) != 0 {
				t.Errorf("%d Location %q, HSTS %q; want 308 to %s without HSTS", resp.StatusCode, resp.Header.Get("Location"), sts, want)
			}
		})
	}
}
