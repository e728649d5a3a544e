package tlsguard

import (
	"crypto/tls"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

func TestCollector(t *testing.T) {
	st := newServerStats(time.Now())
	st.observeHello([]uint16{tls.VersionTLS13, tls.VersionTLS12})
	st.observeHello([]uint16{tls.VersionTLS13})
	st.observeHello([]uint16{tls.VersionTLS12})
	st.observeHandshake(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, false)
	st.observeHandshake(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256, true)
	st.observeHandshake(tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, false)
	st.observeRefused(refusal{reasonNoCertificate, nil})

	a := &App{Mode: ModeAudit, profile: intermediateProfile(), servers: []*server{{name: "srv0", stats: st}},
		findings: Findings{{Severity: SeverityInfo, Code: "policy.curves.incomplete"}, {Severity: SeverityError}}}
	a.last = new(atomic.Pointer[assessment])
	a.last.Store(&assessment{
		findings: Findings{{Severity: SeverityWarning}, {Severity: SeverityInfo}, {Severity: SeverityWarning}},
		servers: []ServerReport{{Name: "srv0", Sites: []SiteReport{
			{Host: "a.example", Grade: &Grade{Grade: "A+", Score: 96}},
			{Host: "b.example", Pending: "no certificate"},
		}}},
	})

	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(newCollector(a)); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}

	want := `
# HELP tlsguard_handshakes_total Completed TLS handshakes by negotiated version and cipher suite, and whether the session was resumed.
# TYPE tlsguard_handshakes_total counter
tlsguard_handshakes_total{cipher_suite="TLS_AES_128_GCM_SHA256",resumed="false",server="srv0",version="tls1.3"} 1
tlsguard_handshakes_total{cipher_suite="TLS_AES_128_GCM_SHA256",resumed="true",server="srv0",version="tls1.3"} 1
tlsguard_handshakes_total{cipher_suite="TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",resumed="false",server="srv0",version="tls1.2"} 1
# HELP tlsguard_tls13_client_ratio Share of ClientHellos (full handshakes) that offer TLS 1.3.
# TYPE tlsguard_tls13_client_ratio gauge
tlsguard_tls13_client_ratio{server="srv0"} 0.6666666666666666
# HELP tlsguard_site_grade_info The rating-guide grade of each site; always 1.
# TYPE tlsguard_site_grade_info gauge
tlsguard_site_grade_info{grade="A+",server="srv0",site="a.example"} 1
# HELP tlsguard_site_score The rating-guide final score (0-100) of each site.
# TYPE tlsguard_site_score gauge
tlsguard_site_score{server="srv0",site="a.example"} 96
# HELP tlsguard_findings Findings of the report (policies, certificates, sites), by severity.
# TYPE tlsguard_findings gauge
tlsguard_findings{severity="error"} 1
tlsguard_findings{severity="info"} 2
tlsguard_findings{severity="warning"} 2
# HELP tlsguard_config_info The tlsguard profile and mode of the running config; always 1.
# TYPE tlsguard_config_info gauge
tlsguard_config_info{mode="audit",profile="intermediate"} 1
`
	for _, name := range []string{"tlsguard_handshakes_total", "tlsguard_tls13_client_ratio", "tlsguard_site_grade_info",
		"tlsguard_site_score", "tlsguard_findings", "tlsguard_config_info"} {
		got := exposition(t, families, name)
		if !strings.Contains(want, got) {
			t.Errorf("%s:\n%s\nnot in the expected exposition:\n%s", name, got, want)
		}
	}
	for _, mf := range families {
		switch mf.GetName() {
		case "tlsguard_client_hellos_total":
			if n := len(mf.GetMetric()); n != numVersionSlots {
				t.Errorf("%d client hello series, want one per version slot (%d)", n, numVersionSlots)
			}
		case "tlsguard_refused_handshakes_total":
			if n := len(mf.GetMetric()); n != numReasons {
				t.Errorf("%d refused series, want one per reason (%d)", n, numReasons)
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "reason" && l.GetValue() == "no_certificate" && m.GetCounter().GetValue() != 1 {
						t.Errorf("no_certificate = %v, want 1", m.GetCounter().GetValue())
					}
				}
			}
		}
	}
}

// exposition renders one metric family in the text format.
func exposition(t *testing.T, families []*dto.MetricFamily, name string) string {
	t.Helper()
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		var sb strings.Builder
		if _, err := expfmt.MetricFamilyToText(&sb, mf); err != nil {
			t.Fatal(err)
		}
		return sb.String()
	}
	t.Fatalf("no metric family %s", name)
	return ""
}
