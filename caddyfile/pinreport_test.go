package caddyfile

import "testing"

// TestPinReportOptionsAgree: the options pinreport gained with its
// event-driven inventory get the same decision and message from the
// Caddyfile and from JSON.
func TestPinReportOptionsAgree(t *testing.T) {
	checkTwins(t, "pinreport", []twin{
		{"certificate_metrics", "certificate_metrics some", `{"certificate_metrics": "some"}`, false},
		{"certificate_metrics_warning", "certificate_metrics warning", `{"certificate_metrics": "warning"}`, true},
		{"certificate_metrics_none", "certificate_metrics none", `{"certificate_metrics": "none"}`, true},
	})
}

func TestPinReportRevocationAgree(t *testing.T) {
	checkTwins(t, "pinreport", []twin{
		{"revocation_off", "revocation off", `{"revocation": {"disabled": true}}`, true},
		{"interval", "revocation {\n\tinterval 10m\n}", `{"revocation": {"interval": "10m"}}`, true},
		{"interval_syntax", "revocation {\n\tinterval soon\n}", `{"revocation": {"interval": "soon"}}`, false},
		{"crl_url", "revocation {\n\tcrl subject CN=R12 ldap://crl.example/\n}", `{"revocation": {"issuer_crls": [{"issuer_subject": "CN=R12", "url": "ldap://crl.example/"}]}}`, false},
		{"crl_pin", "revocation {\n\tcrl spki sha256/AAAA http://crl.example/a.crl\n}", `{"revocation": {"issuer_crls": [{"issuer_spki": "sha256/AAAA", "url": "http://crl.example/a.crl"}]}}`, false},
		{"crl", "revocation {\n\tcrl subject \"CN=R12,O=Let's Encrypt,C=US\" http://r12.c.lencr.org/1.crl\n}",
			`{"revocation": {"issuer_crls": [{"issuer_subject": "CN=R12,O=Let's Encrypt,C=US", "url": "http://r12.c.lencr.org/1.crl"}]}}`, true},
	})
}
