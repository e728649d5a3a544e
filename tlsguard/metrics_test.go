package tlsguard

import (
	"crypto/tls"
	"strconv"
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
	sites := st.index([]string{"a.example", "b.example"})
	st.observeHello(&tls.ClientHelloInfo{SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
		SupportedCurves: []tls.CurveID{tls.X25519MLKEM768, tls.X25519}})
	st.observeHello(&tls.ClientHelloInfo{SupportedVersions: []uint16{tls.VersionTLS13}, SupportedCurves: []tls.CurveID{tls.X25519}})
	st.observeHello(&tls.ClientHelloInfo{SupportedVersions: []uint16{tls.VersionTLS12}, SupportedCurves: []tls.CurveID{tls.CurveP256}})
	st.observeHandshake(&tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256,
		CurveID: tls.X25519MLKEM768, ServerName: "a.example"}, sites.lookup("a.example"))
	st.observeHandshake(&tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256,
		CurveID: tls.X25519, DidResume: true, HelloRetryRequest: true}, sites.lookup("a.example"))
	st.observeHandshake(&tls.ConnectionState{Version: tls.VersionTLS12, CipherSuite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		CurveID: tls.CurveP256}, sites.lookup("unknown.example"))
	st.observeRefused(refusal{reasonNoCertificate, nil})

	a := &App{Mode: ModeAudit, profile: intermediateProfile(),
		servers:  []*server{{name: "srv0", stats: st, sites: []site{{host: "a.example"}, {host: "b.example"}}}},
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
# HELP tlsguard_mlkem_client_ratio Share of ClientHellos (full handshakes) that offer an ML-KEM hybrid key exchange group.
# TYPE tlsguard_mlkem_client_ratio gauge
tlsguard_mlkem_client_ratio{server="srv0"} 0.3333333333333333
# HELP tlsguard_mlkem_client_hellos_total ClientHellos of full handshakes by whether the client offers an ML-KEM hybrid key exchange group (X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024).
# TYPE tlsguard_mlkem_client_hellos_total counter
tlsguard_mlkem_client_hellos_total{offered="false",server="srv0"} 2
tlsguard_mlkem_client_hellos_total{offered="true",server="srv0"} 1
# HELP tlsguard_post_quantum_handshake_ratio Share of completed TLS handshakes whose key exchange was an ML-KEM hybrid.
# TYPE tlsguard_post_quantum_handshake_ratio gauge
tlsguard_post_quantum_handshake_ratio{server="srv0"} 0.3333333333333333
# HELP tlsguard_site_handshakes_total Completed TLS handshakes of each site (by the server name the client asked for) by key exchange kind (post_quantum, classical, none) and whether they accepted Encrypted ClientHello.
# TYPE tlsguard_site_handshakes_total counter
tlsguard_site_handshakes_total{ech_accepted="false",key_exchange="classical",server="srv0",site="a.example"} 1
tlsguard_site_handshakes_total{ech_accepted="false",key_exchange="classical",server="srv0",site="b.example"} 0
tlsguard_site_handshakes_total{ech_accepted="false",key_exchange="none",server="srv0",site="a.example"} 0
tlsguard_site_handshakes_total{ech_accepted="false",key_exchange="none",server="srv0",site="b.example"} 0
tlsguard_site_handshakes_total{ech_accepted="false",key_exchange="post_quantum",server="srv0",site="a.example"} 1
tlsguard_site_handshakes_total{ech_accepted="false",key_exchange="post_quantum",server="srv0",site="b.example"} 0
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
		"tlsguard_mlkem_client_ratio", "tlsguard_mlkem_client_hellos_total", "tlsguard_post_quantum_handshake_ratio", "tlsguard_site_handshakes_total",
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
		case "tlsguard_key_exchanges_total":
			if n := len(mf.GetMetric()); n != 2*numGroupSlots {
				t.Errorf("%d key exchange series, want two per group slot (%d)", n, 2*numGroupSlots)
			}
			for _, m := range mf.GetMetric() {
				key := sampleLabels(m)
				want := map[string]float64{
					`group="x25519mlkem768",hello_retry_request="false",server="srv0"`: 1,
					`group="x25519",hello_retry_request="true",server="srv0"`:          1,
					`group="secp256r1",hello_retry_request="false",server="srv0"`:      1,
				}[key]
				if got := m.GetCounter().GetValue(); got != want {
					t.Errorf("tlsguard_key_exchanges_total{%s} = %v, want %v", key, got, want)
				}
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

// sampleLabels renders a sample's labels as name="value" pairs, in
// Prometheus order.
func sampleLabels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+strconv.Quote(l.GetValue()))
	}
	return strings.Join(parts, ",")
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
