package caddyfile

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// twin is one value given to a global option in a Caddyfile and to its
// app in JSON: both must get the same decision and the same message.
type twin struct {
	name      string
	caddyfile string // the option's block, without braces
	json      string // the app's JSON
	accepted  bool
}

// adaptedAt strips what the Caddyfile adapter adds around a module's
// message: the option's prefix and ", at Caddyfile:N".
var adaptedAt = regexp.MustCompile(`^parsing caddyfile tokens for '[a-z]+': [a-z ]+: |, at Caddyfile:\d+$`)

// checkTwins adapts each twin's Caddyfile and provisions its JSON.
func checkTwins(t *testing.T, option string, twins []twin) {
	t.Helper()
	for _, tc := range twins {
		t.Run(tc.name, func(t *testing.T) {
			cf := "{\n\t" + option + " {\n\t\t" + strings.ReplaceAll(tc.caddyfile, "\n", "\n\t\t") + "\n\t}\n}\n"
			_, _, adaptErr := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(cf), map[string]any{"filename": "Caddyfile"})
			_, loadErr := caddy.ProvisionContext(&caddy.Config{AppsRaw: caddy.ModuleMap{option: json.RawMessage(tc.json)}})
			if tc.accepted {
				if adaptErr != nil || loadErr != nil {
					t.Fatalf("want both accepted; Caddyfile: %v; JSON: %v", adaptErr, loadErr)
				}
				return
			}
			if adaptErr == nil || loadErr == nil {
				t.Fatalf("want both refused; Caddyfile: %v; JSON: %v", adaptErr, loadErr)
			}
			msg := adaptedAt.ReplaceAllString(adaptErr.Error(), "")
			if !strings.Contains(loadErr.Error(), msg) {
				t.Errorf("the Caddyfile says %q\nthe JSON says %q", msg, loadErr)
			}
		})
	}
}

func TestTLSGuardCaddyfileAndJSONAgree(t *testing.T) {
	checkTwins(t, "tlsguard", []twin{
		{"mode", "mode block", `{"mode": "block"}`, false},
		{"profile", "profile old", `{"profile": "old"}`, false},
		{"lint_interval", "lint_interval soon", `{"lint_interval": "soon"}`, false},
		{"lint_interval_years", "lint_interval 1y", `{"lint_interval": "1y"}`, false},
		{"protocol_min", "profile custom\nprotocol_min tls1.1\ncurves x25519",
			`{"profile": "custom", "custom": {"protocol_min": "tls1.1", "curves": ["x25519"]}}`, false},
		{"ciphers", "profile custom\nprotocol_min tls1.2\nciphers TLS_FOO TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\nciphers TLS_AES_128_GCM_SHA256\ncurves x25519",
			`{"profile": "custom", "custom": {"protocol_min": "tls1.2", "cipher_suites": ["TLS_FOO", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"], "curves": ["x25519"]}}`, false},
		{"curves", "profile custom\nprotocol_min tls1.3\ncurves x448 x25519 foo",
			`{"profile": "custom", "custom": {"protocol_min": "tls1.3", "curves": ["x448", "x25519", "foo"]}}`, false},
		{"curves_any_case", "profile custom\nprotocol_min tls1.3\ncurves X25519 SECP256R1",
			`{"profile": "custom", "custom": {"protocol_min": "tls1.3", "curves": ["X25519", "SECP256R1"]}}`, true},
		{"max_certificate_lifetime", "profile custom\nprotocol_min tls1.3\ncurves x25519\nmax_certificate_lifetime forever",
			`{"profile": "custom", "custom": {"protocol_min": "tls1.3", "curves": ["x25519"], "max_certificate_lifetime": "forever"}}`, false},
		{"custom_without_profile", "curves x25519", `{"custom": {"curves": ["x25519"]}}`, false},
		{"require_hsts", "require_hsts", `{"require_hsts": true}`, true},
	})
}

func TestPinReportCaddyfileAndJSONAgree(t *testing.T) {
	checkTwins(t, "pinreport", []twin{
		{"scan_interval", "scan_interval soon", `{"scan_interval": "soon"}`, false},
		{"warning_before", "warning_before 2w", `{"warning_before": "2w"}`, false},
		{"retries", "webhook https://a.example/ {\n\tretries 50\n}", `{"webhook": {"url": "https://a.example/", "retries": 50}}`, false},
		{"min_severity", "webhook https://a.example/ {\n\tmin_severity loud\n}", `{"webhook": {"url": "https://a.example/", "min_severity": "loud"}}`, false},
		{"min_severity_info", "webhook https://a.example/ {\n\tmin_severity info\n}", `{"webhook": {"url": "https://a.example/", "min_severity": "info"}}`, true},
		{"webhook_url", "webhook alerts.example/hook", `{"webhook": {"url": "alerts.example/hook"}}`, false},
		{"webhook_timeout", "webhook https://a.example/ {\n\ttimeout soon\n}", `{"webhook": {"url": "https://a.example/", "timeout": "soon"}}`, false},
	})
}
