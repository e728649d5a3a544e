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
