package pinreport

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering from a pedantic registry: %v", err)
	}
	out := make(map[string]*dto.MetricFamily)
	for _, mf := range families {
		out[mf.GetName()] = mf
	}
	return out
}

func labelsOf(m *dto.Metric) map[string]string {
	out := make(map[string]string)
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

func TestCollector(t *testing.T) {
	ca := newTestCA(t, "metrics")
	tc := newTestCache(t)
	now := time.Now().Truncate(time.Second)
	a1 := tc.add(t, ca.leaf(t, []string{"a.example"}, now.Add(-time.Hour), now.Add(89*24*time.Hour), nil))
	a2 := tc.add(t, ca.leaf(t, []string{"a.example"}, now, now.Add(90*24*time.Hour), nil))
	old := tc.add(t, ca.leaf(t, []string{"old.example"}, now.Add(-90*24*time.Hour), now.Add(-time.Hour), nil))
	s := newState()
	p := s.newPolicy(thresholds{}, nil)
	scan := func(cached ...certmagic.Certificate) { s.inv.reconcile(p, found(cached), buildManual, now) }
	scan(a1, a2, old)
	for range 3 {
		s.counts.inc(countRenewals)
	}
	s.counts.inc(countPinChanges)
	s.counts.alert(SeverityCritical)
	s.counts.alert(SeverityCritical)

	reg := prometheus.NewPedanticRegistry()
	c := newCollector(s.inv, s.counts, levelOK, nil)
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	fams := gather(t, reg)

	notAfter := fams["pinreport_certificate_not_after_timestamp_seconds"].GetMetric()
	if len(notAfter) != 2 {
		t.Fatalf("%d not_after series, want 2 (a.example once, old.example)", len(notAfter))
	}
	for _, m := range notAfter {
		l := labelsOf(m)
		if l["issuer_kind"] != "manual" || len(l) != 2 {
			t.Errorf("labels %v; want name and issuer_kind only", l)
		}
		if l["name"] == "a.example" && m.GetGauge().GetValue() != float64(a2.Leaf.NotAfter.Unix()) {
			t.Errorf("a.example not_after %v; want the later certificate's %d", m.GetGauge().GetValue(), a2.Leaf.NotAfter.Unix())
		}
	}
	states := make(map[string]float64)
	for _, m := range fams["pinreport_certificates"].GetMetric() {
		states[labelsOf(m)["state"]] = m.GetGauge().GetValue()
	}
	if states["ok"] != 2 || states["expired"] != 1 || states["warning"] != 0 || states["critical"] != 0 || len(states) != 4 {
		t.Errorf("certificates by state %v; want ok 2, expired 1 and zero series for the rest", states)
	}
	if v := fams["pinreport_renewals_total"].GetMetric()[0].GetCounter().GetValue(); v != 3 {
		t.Errorf("renewals_total %v, want 3", v)
	}
	if fams["pinreport_alerts_total"] == nil || len(fams["pinreport_alerts_total"].GetMetric()) != 3 {
		t.Error("want an alerts_total series per severity")
	}

	// A certificate leaving the cache leaves no series behind.
	scan(a2)
	fams = gather(t, reg)
	if n := len(fams["pinreport_certificate_not_after_timestamp_seconds"].GetMetric()); n != 1 {
		t.Errorf("%d not_after series after old.example left; want 1", n)
	}
	var text strings.Builder
	for _, name := range []string{"pinreport_pin_changes_total", "pinreport_renewal_failures_total"} {
		if fams[name] == nil {
			text.WriteString(name + " ")
		}
	}
	if text.Len() > 0 {
		t.Errorf("missing counters: %s", text.String())
	}
}

// TestCollectorWarningOnly: certificate_metrics warning exports series
// for certificates in warning or worse only; the counts stay complete.
func TestCollectorWarningOnly(t *testing.T) {
	ca := newTestCA(t, "metrics")
	tc := newTestCache(t)
	now := time.Now().Truncate(time.Second)
	var cached []certmagic.Certificate
	for i := range 20 {
		cached = append(cached, tc.add(t, ca.leaf(t, []string{fmt.Sprintf("ok%d.example", i)}, now.Add(-time.Hour), now.Add(89*24*time.Hour), nil)))
	}
	cached = append(cached,
		tc.add(t, ca.leaf(t, []string{"overdue.example"}, now.Add(-70*24*time.Hour), now.Add(20*24*time.Hour), nil)),
		tc.add(t, ca.leaf(t, []string{"expired.example"}, now.Add(-90*24*time.Hour), now.Add(-time.Hour), nil)))
	s := newState()
	s.inv.reconcile(s.newPolicy(thresholds{}, nil), found(cached), buildManual, now)
	for _, tt := range []struct {
		option string
		want   []string
	}{
		{CertificateMetricsWarning, []string{"expired.example", "overdue.example"}},
		{CertificateMetricsNone, nil},
	} {
		minSeries, err := parseCertificateMetrics(tt.option)
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(newCollector(s.inv, s.counts, minSeries, nil)); err != nil {
			t.Fatal(err)
		}
		fams := gather(t, reg)
		var names []string
		for _, m := range fams["pinreport_certificate_not_after_timestamp_seconds"].GetMetric() {
			names = append(names, labelsOf(m)["name"])
		}
		slices.Sort(names)
		if !slices.Equal(names, tt.want) {
			t.Errorf("%s: series for %v; want %v", tt.option, names, tt.want)
		}
		states := make(map[string]float64)
		for _, m := range fams["pinreport_certificates"].GetMetric() {
			states[labelsOf(m)["state"]] = m.GetGauge().GetValue()
		}
		if states["ok"] != 20 || states["warning"] != 1 || states["expired"] != 1 {
			t.Errorf("%s: certificates by state %v; want all counted", tt.option, states)
		}
	}
	if err := CheckCertificateMetrics("some"); err == nil || !strings.Contains(err.Error(), `certificate_metrics = "some": is not all, warning or none; fix: `) {
		t.Errorf("certificate_metrics some: %v", err)
	}
}
