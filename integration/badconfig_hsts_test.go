package integration

import (
	"strconv"
	"strings"
	"testing"
)

// jsonSite is a JSON config with one HTTPS site on localhost whose first
// handler is handler (a JSON object).
func jsonSite(handler string) string {
	return expand(`{
	"admin": {"listen": "localhost:{{admin_port}}"},
	"storage": {"module": "file_system", "root": "{{data_dir}}/caddy"},
	"apps": {
		"pki": {"certificate_authorities": {"local": {"install_trust": false}}},
		"tls": {"automation": {"policies": [{"issuers": [{"module": "internal"}]}]}},
		"http": {
			"http_port": {{http_port}},
			"https_port": {{https_port}},
			"servers": {"srv0": {
				"listen": [":{{https_port}}"],
				"routes": [{
					"match": [{"host": ["localhost"]}],
					"handle": [` + handler + `, {"handler": "static_response", "body": "still serving"}]
				}]
			}}
		}
	}
}`)
}

// TestHSTSBadConfigsRefused loads a good config, then posts bad ones:
// each is refused with an error that names the module, the field, the
// value and the fix, and the good config keeps serving.
func TestHSTSBadConfigsRefused(t *testing.T) {
	load(t, jsonSite(`{"handler": "hsts", "max_age": 31536000}`), "json")
	roots := localRoot(t)
	waitCert(t, "localhost", roots)
	c := client(roots)
	url := "https://localhost:" + strconv.Itoa(httpsPort) + "/"
	const good = "max-age=31536000; includeSubDomains"

	site := func(directive string) string {
		return caddyfile("local_certs", "localhost {\n"+directive+"\n\trespond \"bad\"\n}\n")
	}
	cases := []struct {
		name, cfg, adapter string
		want               []string // all must appear in the error
	}{
		{"preload_short_max_age", site("hsts 600 {\n\t\tpreload\n\t}"), "caddyfile",
			[]string{"http.handlers.hsts", "max_age = 600", "header.preloadable.max_age.below_1_year", "fix: set max_age to at least 31536000"}},
		{"preload_zero", site("hsts 0 {\n\t\tpreload\n\t}"), "caddyfile",
			[]string{"http.handlers.hsts", "max_age = 0", "header.preloadable.max_age.zero"}},
		{"preload_no_subdomains", site("hsts {\n\t\tpreload\n\t\tinclude_subdomains off\n\t}"), "caddyfile",
			[]string{"http.handlers.hsts", "include_subdomains = false", "header.preloadable.include_sub_domains.missing", "fix: turn include_subdomains on"}},
		{"caddyfile_typo", site("hsts {\n\t\tmaxage 300\n\t}"), "caddyfile",
			[]string{"hsts", `unrecognized subdirective "maxage"`}},
		{"caddyfile_bad_duration", site("hsts 2y"), "caddyfile",
			[]string{"hsts max_age", `"2y"`, "730d"}},
		{"json_duration_string", jsonSite(`{"handler": "hsts", "max_age": "2y"}`), "json",
			[]string{"http.handlers.hsts", `"2y"`, "730d"}},
		{"json_negative", jsonSite(`{"handler": "hsts", "max_age": -1}`), "json",
			[]string{"http.handlers.hsts", "max_age or hold: -1 is negative"}},
		{"json_unknown_field", jsonSite(`{"handler": "hsts", "maxage": 300}`), "json",
			[]string{"http.handlers.hsts", "maxage"}},
		{"json_preload_json", jsonSite(`{"handler": "hsts", "max_age": 86400, "preload": true}`), "json",
			[]string{"http.handlers.hsts", "max_age = 86400", "below_1_year"}},
		{"ramp_no_start", jsonSite(`{"handler": "hsts", "ramp": {"stages": [{"max_age": 300}]}}`), "json",
			[]string{"http.handlers.hsts", "ramp.start is missing", "RFC 3339"}},
		{"ramp_short_hold", jsonSite(`{"handler": "hsts", "ramp": {"start": "2026-01-01T00:00:00Z", "stages": [{"max_age": 600, "hold": 60}]}}`), "json",
			[]string{"http.handlers.hsts", "ramp.stages[0].hold = 60", "at least the stage's max_age 600"}},
		{"ramp_stage_above_final", jsonSite(`{"handler": "hsts", "max_age": 600, "ramp": {"start": "2026-01-01T00:00:00Z", "stages": [{"max_age": 900}]}}`), "json",
			[]string{"http.handlers.hsts", "ramp.stages[0].max_age = 900", "below the final max_age 600"}},
		{"redirect_status", jsonSite(`{"handler": "https_redirect", "status_code": 302}`), "json",
			[]string{"http.handlers.https_redirect", "status_code = 302", "308"}},
		{"redirect_catch_all", jsonSite(`{"handler": "https_redirect", "hosts": ["*"]}`), "json",
			[]string{"http.handlers.https_redirect", `hosts[0] = "*"`, "catch-all"}},
		{"redirect_path_in_host", jsonSite(`{"handler": "https_redirect", "hosts": ["example.com/x"]}`), "json",
			[]string{"http.handlers.https_redirect", `hosts[0] = "example.com/x"`, "use a host name"}},
		{"redirect_canonical_url", jsonSite(`{"handler": "https_redirect", "canonical_host": "https://example.com"}`), "json",
			[]string{"http.handlers.https_redirect", `canonical_host = "https://example.com"`, "without scheme or port"}},
		{"redirect_caddyfile_status", caddyfile("", "http:// {\n\thttps_redirect 302\n}\n"), "caddyfile",
			[]string{"http.handlers.https_redirect", "status_code = 302"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := loadError(t, tc.cfg, tc.adapter)
			t.Logf("refused: %s", msg)
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error does not contain %q:\n%s", want, msg)
				}
			}
			resp, body := get(t, c, url)
			if body != "still serving" || resp.Header.Get("Strict-Transport-Security") != good {
				t.Errorf("after the refused load: %q with STS %q; want the previous config serving", body, resp.Header.Get("Strict-Transport-Security"))
			}
		})
	}
}
