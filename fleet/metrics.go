package fleet

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Storage operations counted, and their results.
var storageOps = []string{"store", "delete", "list", "load", "lock"}

// stats are the fleet's counters. They live on the observer, so they
// survive config reloads like the observations do. The maps are built
// once and only read afterwards; the values are atomic.
type stats struct {
	ops          map[string]*[2]atomic.Uint64 // op -> [ok, error]
	skips        map[string]*atomic.Uint64
	alerts       map[string]*atomic.Uint64
	records      atomic.Int64 // instances in the last listing
	bytesWritten atomic.Int64 // size of the last record written
}

func newStats() *stats {
	s := &stats{
		ops:    make(map[string]*[2]atomic.Uint64),
		skips:  make(map[string]*atomic.Uint64),
		alerts: make(map[string]*atomic.Uint64),
	}
	for _, op := range storageOps {
		s.ops[op] = new([2]atomic.Uint64)
	}
	for _, r := range []string{skipBadKey, skipMalformed, skipVersion, skipMismatch} {
		s.skips[r] = new(atomic.Uint64)
	}
	for _, ev := range alertEvents {
		s.alerts[ev] = new(atomic.Uint64)
	}
	return s
}

func (s *stats) op(op string, err error) {
	i := 0
	if err != nil {
		i = 1
	}
	s.ops[op][i].Add(1)
}

func (s *stats) skipped(reason string) { s.skips[reason].Add(1) }
func (s *stats) alert(event string)    { s.alerts[event].Add(1) }

// opCount returns how many operations of a kind were made, for tests.
func (s *stats) opCount(op string) uint64 { return s.ops[op][0].Load() + s.ops[op][1].Load() }

// collector exposes the fleet as Prometheus metrics, read at scrape time
// from the app's last view: a reload leaves no stale series behind.
// Every instance reports the same fleet view, so dashboards and alert
// rules aggregate with max() across instances.
type collector struct {
	app *App

	instances, drift, healthy, alerter, mode *prometheus.Desc
	ops, skips, alerts, recordBytes, asOf    *prometheus.Desc
}

func newCollector(a *App) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("fleet_"+name, help, labels, nil)
	}
	return &collector{
		app: a,
		instances: d("instances",
			"Instances sharing this storage, by state (alive, stale, gone, left), as this instance sees the fleet.", "state"),
		drift: d("drift_items",
			"Things the ready, non-gone instances disagree on, by kind (config, profile, mode, tls_settings, grade, hsts, leaf, clock).", "kind"),
		healthy: d("storage_healthy",
			"1 while this instance can write its record and list the others', 0 while either fails."),
		alerter: d("alerter",
			"1 when this instance is the one chosen to send the fleet's alerts."),
		mode: d("alerting_mode",
			"1 for the alerting mode in force: once_per_fleet (locks exclude), reporting_only (they do not) or pending.", "mode"),
		ops: d("storage_operations_total",
			"Storage operations made by this instance's fleet app, by operation and result.", "op", "result"),
		skips: d("records_skipped_total",
			"Keys or records under the fleet prefix skipped, by reason (bad_key, malformed, version, mismatch).", "reason"),
		alerts: d("alerts_total",
			"Fleet alerts this instance sent, by event; summed over the fleet, each condition counts once.", "event"),
		recordBytes: d("record_bytes",
			"Size of the record this instance last wrote."),
		asOf: d("last_list_timestamp_seconds",
			"When this instance last listed the fleet records successfully, as a Unix timestamp."),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.instances, c.drift, c.healthy, c.alerter, c.mode, c.ops, c.skips, c.alerts, c.recordBytes, c.asOf} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	v := c.app.currentView()
	byState := map[string]int{StateAlive: v.Summary.Alive, StateStale: v.Summary.Stale, StateGone: v.Summary.Gone, StateLeft: v.Summary.Left}
	for _, s := range states {
		gauge(c.instances, float64(byState[s]), s)
	}
	byKind := make(map[string]int)
	for _, d := range v.Drift {
		byKind[d.Kind]++
	}
	for _, k := range driftKinds {
		gauge(c.drift, float64(byKind[k]), k)
	}
	gauge(c.healthy, boolFloat(v.Storage.OK))
	gauge(c.alerter, boolFloat(v.Alerting.Alerter != "" && v.Alerting.Alerter == v.Instance))
	for _, m := range []string{modePending, modeOncePerFleet, modeReportingOnly} {
		gauge(c.mode, boolFloat(v.Alerting.Mode == m), m)
	}
	st := c.app.obs.stats
	for _, op := range storageOps {
		counter(c.ops, st.ops[op][0].Load(), op, "ok")
		counter(c.ops, st.ops[op][1].Load(), op, "error")
	}
	for _, r := range []string{skipBadKey, skipMalformed, skipVersion, skipMismatch} {
		counter(c.skips, st.skips[r].Load(), r)
	}
	for _, ev := range alertEvents {
		counter(c.alerts, st.alerts[ev].Load(), ev)
	}
	gauge(c.recordBytes, float64(st.bytesWritten.Load()))
	if !v.AsOf.IsZero() {
		gauge(c.asOf, float64(v.AsOf.UnixNano())/1e9)
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Interface guards
var _ prometheus.Collector = (*collector)(nil)
