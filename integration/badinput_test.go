package integration

import (
	"strconv"
	"strings"
	"testing"
)

// jsonSite is a JSON config with one HTTPS site on localhost whose first
// handler is handler (a JSON object).
func jsonSite(handler string) string { return jsonConfig(handler, "", "{}") }

// jsonApp is jsonSite's config with an hsts handler plus one more app
// (name and JSON object), or with connection policy JSON for the server.
func jsonApp(name, app string) string {
	return jsonConfig(`{"handler": "hsts"}`, `"`+name+`": `+app+`,`, "{}")
}

func jsonPolicy(policy string) string {
	return jsonConfig(`{"handler": "hsts"}`, `"tlsguard": {},`, policy)
}

func jsonConfig(handler, apps, policy string) string {
	return expand(`{
	"admin": {"listen": "localhost:{{admin_port}}"},
	"storage": {"module": "file_system", "root": "{{data_dir}}/caddy"},
	"apps": {
		` + apps + `
		"pki": {"certificate_authorities": {"local": {"install_trust": false}}},
		"tls": {"automation": {"policies": [{"issuers": [{"module": "internal"}]}]}},
		"http": {
			"http_port": {{http_port}},
			"https_port": {{https_port}},
			"servers": {"srv0": {
				"listen": ["127.0.0.1:{{https_port}}"],
				"tls_connection_policies": [` + policy + `],
				"routes": [{
					"match": [{"host": ["localhost"]}],
					"handle": [` + handler + `, {"handler": "static_response", "body": "still serving"}]
				}]
			}}
		}
	}
}`)
}

// TestBadInputSuite loads a good config, then posts bad ones for every
// module, as Caddyfile and as JSON: wrong types, negative durations,
// unknown names, malformed pins, duplicates... Each is refused with an
// error that names the module, the field, the value and the fix; none
// panics (a panic would take the in-process Caddy down); and the good
// config keeps serving.
func TestBadInputSuite(t *testing.T) {
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
			[]string{"'hsts'", `max_age = "2y": is neither seconds nor a duration`, "fix: write seconds (63072000) or a duration", "730d"}},
		{"json_duration_string", jsonSite(`{"handler": "hsts", "max_age": "2y"}`), "json",
			[]string{"http.handlers.hsts", `max_age = "2y": is neither seconds nor a duration`, "fix: write seconds (63072000) or a duration", "730d"}},
		{"json_negative", jsonSite(`{"handler": "hsts", "max_age": -5}`), "json",
			[]string{"http.handlers.hsts", `max_age = "-5": is negative; fix: write zero or more seconds`}},
		{"caddyfile_negative", site("hsts -5"), "caddyfile",
			[]string{"'hsts'", `max_age = "-5": is negative; fix: write zero or more seconds`}},
		// A string: Caddy's admin API keeps configs as JSON values with
		// float64 numbers, so a number literal this large arrives rounded.
		{"json_out_of_range", jsonSite(`{"handler": "hsts", "max_age": "99999999999999999999"}`), "json",
			[]string{"http.handlers.hsts", `max_age = "99999999999999999999": is out of range: the largest value is 9223372036854775807 seconds; fix: use at most 315360000`}},
		{"caddyfile_out_of_range", site("hsts {\n\t\tmax_age 99999999999999999999\n\t}"), "caddyfile",
			[]string{"'hsts'", `max_age = "99999999999999999999": is out of range: the largest value is 9223372036854775807 seconds; fix: use at most 315360000`}},
		{"json_ramp_hold", jsonSite(`{"handler": "hsts", "ramp": {"start": "2026-01-01T00:00:00Z", "stages": [{"max_age": 300}, {"max_age": 600, "hold": "10 days"}]}}`), "json",
			[]string{"http.handlers.hsts", `ramp.stages[1].hold = "10 days": is neither seconds nor a duration`, "fix: "}},
		{"json_unknown_field", jsonSite(`{"handler": "hsts", "maxage": 300}`), "json",
			[]string{"http.handlers.hsts", "maxage"}},
		{"json_preload_json", jsonSite(`{"handler": "hsts", "max_age": 86400, "preload": true}`), "json",
			[]string{"http.handlers.hsts", "max_age = 86400", "below_1_year"}},
		{"ramp_no_start", jsonSite(`{"handler": "hsts", "ramp": {"stages": [{"max_age": 300}]}}`), "json",
			[]string{"http.handlers.hsts", `ramp.start = "": is missing; fix: set it to the RFC 3339 time`}},
		{"ramp_short_hold", jsonSite(`{"handler": "hsts", "ramp": {"start": "2026-01-01T00:00:00Z", "stages": [{"max_age": 600, "hold": 60}]}}`), "json",
			[]string{"http.handlers.hsts", "ramp.stages[0].hold = 60", "at least the stage's max_age 600"}},
		{"ramp_stage_above_final", jsonSite(`{"handler": "hsts", "max_age": 600, "ramp": {"start": "2026-01-01T00:00:00Z", "stages": [{"max_age": 900}]}}`), "json",
			[]string{"http.handlers.hsts", "ramp.stages[0].max_age = 900", "below the final max_age 600"}},
		{"redirect_status", jsonSite(`{"handler": "https_redirect", "status_code": 302}`), "json",
			[]string{"http.handlers.https_redirect", "status_code = 302", "308"}},
		{"redirect_catch_all", jsonSite(`{"handler": "https_redirect", "hosts": ["*"]}`), "json",
			[]string{"http.handlers.https_redirect", `hosts[0] = "*"`, "catch-all"}},
		{"redirect_path_in_host", jsonSite(`{"handler": "https_redirect", "hosts": ["example.com/x"]}`), "json",
			[]string{"http.handlers.https_redirect", `hosts[0] = "example.com/x": malformed host: byte '/' not allowed; fix: write a bare host name`}},
		{"redirect_canonical_url", jsonSite(`{"handler": "https_redirect", "canonical_host": "https://example.com"}`), "json",
			[]string{"http.handlers.https_redirect", `canonical_host = "https://example.com"`, "without scheme or port"}},
		{"redirect_caddyfile_status", caddyfile("", "http:// {\n\thttps_redirect 302\n}\n"), "caddyfile",
			[]string{"'https_redirect'", "status_code = 302: is not a permanent redirect; fix: use 308"}},
		{"redirect_canonical_not_served", jsonSite(`{"handler": "https_redirect", "canonical_host": "www.example.com"}`), "json",
			[]string{"http.handlers.https_redirect", `canonical_host = "www.example.com": is not a site this config serves over HTTPS (localhost); fix: name one of those sites, or add a site block for www.example.com`}},
		{"redirect_canonical_not_served_caddyfile", caddyfile("local_certs", "localhost, app.localhost {\n\thttps_redirect {\n\t\tcanonical_host www.localhost\n\t}\n\trespond bad\n}\n"), "caddyfile",
			[]string{"http.handlers.https_redirect", `canonical_host = "www.localhost": is not a site this config serves over HTTPS (app.localhost, localhost)`}},
		{"redirect_host_with_port", jsonSite(`{"handler": "https_redirect", "hosts": ["example.com:443"]}`), "json",
			[]string{"http.handlers.https_redirect", `hosts[0] = "example.com:443": malformed host: it has a port; fix: write a bare host name`}},

		// tlsguard
		{"tlsguard_unknown_profile", jsonApp("tlsguard", `{"profile": "strict"}`), "json",
			[]string{"tlsguard", `profile = "strict": is not a profile; fix: use modern, intermediate or custom`}},
		{"tlsguard_unknown_mode", jsonApp("tlsguard", `{"mode": "block"}`), "json",
			[]string{"tlsguard", `mode = "block": is not a mode; fix: use enforce (refuse what falls short), harden (apply the profile) or audit (only report)`}},
		{"tlsguard_negative_interval", jsonApp("tlsguard", `{"lint_interval": "-5m"}`), "json",
			[]string{"tlsguard", `lint_interval = "-5m0s": is too short; fix: use 1s or more, e.g. 10m`}},
		{"tlsguard_wrong_type", jsonApp("tlsguard", `{"telemetry": "yes"}`), "json",
			[]string{"tlsguard", `telemetry = "yes"`, "a JSON string where true or false is wanted"}},
		{"tlsguard_custom_without_profile", jsonApp("tlsguard", `{"custom": {"protocol_min": "tls1.2"}}`), "json",
			[]string{"tlsguard", `profile = "intermediate": takes no custom settings (protocol_min, cipher_suites, curves, max_certificate_lifetime), and they are set; fix: set profile custom, or remove the custom settings`}},
		{"tlsguard_custom_unknown_ciphers", jsonApp("tlsguard", `{"profile": "custom", "custom": {"protocol_min": "tls1.2", "cipher_suites": ["TLS_FOO", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_BAR"], "curves": ["x25519"]}}`), "json",
			[]string{"tlsguard", `custom.cipher_suites[0] = "TLS_FOO": is not a cipher suite Caddy accepts; fix: list TLS 1.2 suites by their Go names`, `custom.cipher_suites[2] = "TLS_BAR": is not a cipher suite Caddy accepts; fix: list TLS 1.2 suites by their Go names`}},
		{"tlsguard_custom_unknown_ciphers_caddyfile", caddyfile("tlsguard {\n\t\tprofile custom\n\t\tprotocol_min tls1.2\n\t\tciphers TLS_FOO\n\t\tciphers TLS_BAR\n\t\tcurves x25519\n\t}", "localhost {\n\trespond bad\n}\n"), "caddyfile",
			[]string{"tlsguard", `custom.cipher_suites[0] = "TLS_FOO": is not a cipher suite Caddy accepts`, `custom.cipher_suites[1] = "TLS_BAR": is not a cipher suite Caddy accepts`, "Caddyfile:"}},
		{"tlsguard_interval_not_duration", jsonApp("tlsguard", `{"lint_interval": "soon"}`), "json",
			[]string{"tlsguard", `lint_interval = "soon": time: invalid duration "soon"`, "fix: write a duration such as 90s, 10m or 14d"}},
		{"tlsguard_interval_not_duration_caddyfile", caddyfile("tlsguard {\n\t\tlint_interval soon\n\t}", "localhost {\n\trespond bad\n}\n"), "caddyfile",
			[]string{"tlsguard", `lint_interval = "soon": time: invalid duration "soon"`, "fix: write a duration such as 90s, 10m or 14d"}},
		{"tlsguard_custom_unknown_curve", caddyfile("tlsguard {\n\t\tprofile custom\n\t\tprotocol_min tls1.3\n\t\tcurves x448\n\t}", "localhost {\n\trespond bad\n}\n"), "caddyfile",
			[]string{"tlsguard", `custom.curves[0] = "x448": is not a curve Caddy supports; fix: use x25519mlkem768, x25519`, "Caddyfile:"}},
		{"tlsguard_cbc_suite", jsonPolicy(`{"cipher_suites": ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"]}`), "json",
			[]string{"tlsguard", "cipher_suites", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "policy.cipher_suite.no_aead"}},
		{"tlsguard_secrets_log", jsonPolicy(`{"protocol_min": "tls1.2", "protocol_max": "tls1.2", "insecure_secrets_log": "{{data_dir}}/keys.log"}`), "json",
			[]string{"tlsguard", "insecure_secrets_log", "policy.insecure_secrets_log"}},
		{"tlsguard_twice", caddyfile("tlsguard\n\ttlsguard modern", "localhost {\n\trespond bad\n}\n"), "caddyfile",
			[]string{"tlsguard"}},

		// pinreport
		{"pinreport_malformed_pin", jsonApp("pinreport", `{"pins": {"a.example": ["sha256/AAAA"]}}`), "json",
			[]string{"pinreport", `pins["a.example"][0] = "sha256/AAAA": decodes to 3 bytes; a SHA-256 pin is 32 bytes; fix: write the 44-character base64`}},
		{"pinreport_pin_wrong_type", jsonApp("pinreport", `{"pins": ["sha256/AAAA"]}`), "json",
			[]string{"pinreport", `pins = ["sha256/AAAA"]`, "a JSON array where an object is wanted"}},
		{"pinreport_webhook_no_scheme", jsonApp("pinreport", `{"webhook": {"url": "alerts.example/hook"}}`), "json",
			[]string{"pinreport", `webhook.url = "alerts.example/hook": has no http:// or https:// scheme`, "write it as https://alerts.example/hook"}},
		{"pinreport_webhook_no_scheme_caddyfile", caddyfile("pinreport {\n\t\twebhook alerts.example/hook\n\t}", ""), "caddyfile",
			[]string{"pinreport", "alerts.example/hook", "https://"}},
		{"pinreport_threshold_order", jsonApp("pinreport", `{"warning_before": "1h", "critical_before": "2h"}`), "json",
			[]string{"pinreport", `critical_before = "2h0m0s": is not shorter than warning_before (1h0m0s): the critical alert must come after the warning; fix: e.g. warning_before 14d`}},
		{"pinreport_negative_interval", jsonApp("pinreport", `{"scan_interval": "-1m"}`), "json",
			[]string{"pinreport", `scan_interval = "-1m0s": is too short; fix: use 1s or more`}},
		{"pinreport_sha1_pin_caddyfile", caddyfile("pinreport {\n\t\tpin a.example sha1/AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\t}", ""), "caddyfile",
			[]string{"pinreport", `pins["a.example"][0] = "sha1/AAAAAAAAAAAAAAAAAAAAAAAAAAA=": is a sha1 pin; only SHA-256 pins are supported; fix: write the 44-character base64`, "Caddyfile:"}},
		{"pinreport_typo_caddyfile", caddyfile("pinreport {\n\t\twebhok https://a.example/\n\t}", ""), "caddyfile",
			[]string{"pinreport", `unrecognized subdirective "webhok"`}},
		{"pinreport_retries_range", jsonApp("pinreport", `{"webhook": {"url": "https://a.example/", "retries": 50}}`), "json",
			[]string{"pinreport", "retries", "50"}},
		{"pinreport_min_severity", jsonApp("pinreport", `{"webhook": {"url": "https://a.example/", "min_severity": "loud"}}`), "json",
			[]string{"pinreport", `webhook.min_severity = "loud": is not a severity; fix: use info, warning or critical`}},
		{"pinreport_interval_not_duration", jsonApp("pinreport", `{"scan_interval": "soon"}`), "json",
			[]string{"pinreport", `scan_interval = "soon": time: invalid duration "soon"`, "fix: write a duration"}},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d bad inputs", len(cases))
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
