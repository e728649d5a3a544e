package fleet

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The metrics are promtool-clean, registered on a pedantic registry like
// Caddy's, and say what the view says.
func TestMetrics(t *testing.T) {
	st := fileStorage(t)
	clk := newTestClock()
	a := newInstance(t, st, clk.now, sampleFacts(), nil)
	f := sampleFacts()
	f.Names[0].SHA256 = strings.Repeat("22", 32)
	b := newInstance(t, st, clk.now, f, nil)
	rounds(clk, 5, a, b)

	c := newCollector(a.app)
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP fleet_drift_items Things the ready, non-gone instances disagree on, by kind (config, profile, mode, tls_settings, grade, hsts, leaf, clock).
# TYPE fleet_drift_items gauge
fleet_drift_items{kind="clock"} 0
fleet_drift_items{kind="config"} 0
fleet_drift_items{kind="grade"} 0
fleet_drift_items{kind="hsts"} 0
fleet_drift_items{kind="leaf"} 1
fleet_drift_items{kind="mode"} 0
fleet_drift_items{kind="profile"} 0
fleet_drift_items{kind="tls_settings"} 0
# HELP fleet_instances Instances sharing this storage, by state (alive, stale, gone, left), as this instance sees the fleet.
# TYPE fleet_instances gauge
fleet_instances{state="alive"} 2
fleet_instances{state="gone"} 0
fleet_instances{state="left"} 0
fleet_instances{state="stale"} 0
# HELP fleet_storage_healthy 1 while this instance can write its record and list the others', 0 while either fails.
# TYPE fleet_storage_healthy gauge
fleet_storage_healthy 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "fleet_drift_items", "fleet_instances", "fleet_storage_healthy"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "fleet_storage_operations_total"); n != 2*len(storageOps) {
		t.Errorf("%d storage operation series; want %d", n, 2*len(storageOps))
	}
}
