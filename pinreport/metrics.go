package pinreport

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// collector exposes the inventory as Prometheus metrics. It reads the
// inventory at scrape time instead of keeping gauges up to date, so a
// certificate that leaves the cache, or a config that is replaced, leaves
// no stale series behind.
type collector struct {
	inv        *inventory
	counts     *counters
	thresholds thresholds
	now        func() time.Time

	notAfter, notBefore, certs         *prometheus.Desc
	renewals, renewalFailures, obtainF *prometheus.Desc
	pinChanges, pinMismatches, revoked *prometheus.Desc
	alerts, webhook, lastScan          *prometheus.Desc
}

// certLabels identify a certificate across renewals: its first name and
// who issues it. Serials and hashes would start a new series with every
// renewal.
var certLabels = []string{"name", "issuer_kind"}

func newCollector(inv *inventory, counts *counters, th thresholds, now func() time.Time) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("pinreport_"+name, help, labels, nil)
	}
	return &collector{
		inv:        inv,
		counts:     counts,
		thresholds: th,
		now:        now,
		notAfter: d("certificate_not_after_timestamp_seconds",
			"Expiry (notAfter) of each certificate in Caddy's cache, as a Unix timestamp.", certLabels...),
		notBefore: d("certificate_not_before_timestamp_seconds",
			"Start of validity (notBefore) of each certificate in Caddy's cache, as a Unix timestamp.", certLabels...),
		certs: d("certificates",
			"Certificates in Caddy's cache by expiry state (ok, warning, critical, expired).", "state"),
		renewals: d("renewals_total",
			"Certificate renewals that succeeded (cert_obtained events with renewal set)."),
		renewalFailures: d("renewal_failures_total",
			"Certificate renewal attempts that failed (cert_failed events with renewal set)."),
		obtainF: d("obtain_failures_total",
			"Attempts to obtain a new certificate that failed (cert_failed events without renewal)."),
		pinChanges: d("pin_changes_total",
			"Renewals that changed the leaf key, and with it the leaf SPKI pin and TLSA 3 1 1 record."),
		pinMismatches: d("pin_mismatches_total",
			"Served certificates whose chain matched none of the expected pins of a host they serve."),
		revoked: d("revocations_total",
			"Certificates found revoked by their OCSP responses (cert_ocsp_revoked events)."),
		alerts: d("alerts_total",
			"Alerts raised, by severity.", "severity"),
		webhook: d("webhook_deliveries_total",
			"Webhook deliveries by result: sent, failed (after retries) or dropped (queue full).", "result"),
		lastScan: d("last_scan_timestamp_seconds",
			"When the inventory was last rebuilt from the certificate cache, as a Unix timestamp."),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.notAfter, c.notBefore, c.certs, c.renewals, c.renewalFailures, c.obtainF,
		c.pinChanges, c.pinMismatches, c.revoked, c.alerts, c.webhook, c.lastScan,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	entries, scannedAt := c.inv.snapshot()
	now := c.now()

	// Two certificates can share a label set (the same first name and
	// kind while an old and a new one are both cached); the registry
	// refuses duplicate series, so the one expiring last is reported.
	type key struct{ name, kind string }
	newest := make(map[key]*entry, len(entries))
	var byLevel [numLevels]int
	for _, e := range entries {
		lvl, _ := c.thresholds.level(e, now)
		byLevel[lvl]++
		k := key{e.FirstName(), e.Kind.String()}
		if cur, ok := newest[k]; !ok || e.Leaf.NotAfter.After(cur.Leaf.NotAfter) {
			newest[k] = e
		}
	}
	for k, e := range newest {
		ch <- prometheus.MustNewConstMetric(c.notAfter, prometheus.GaugeValue, unixSeconds(e.Leaf.NotAfter), k.name, k.kind)
		ch <- prometheus.MustNewConstMetric(c.notBefore, prometheus.GaugeValue, unixSeconds(e.Leaf.NotBefore), k.name, k.kind)
	}
	for lvl := range numLevels {
		ch <- prometheus.MustNewConstMetric(c.certs, prometheus.GaugeValue, float64(byLevel[lvl]), lvl.String())
	}

	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	cs := c.counts
	counter(c.renewals, cs.get(countRenewals))
	counter(c.renewalFailures, cs.get(countRenewalFailures))
	counter(c.obtainF, cs.get(countObtainFailures))
	counter(c.pinChanges, cs.get(countPinChanges))
	counter(c.pinMismatches, cs.get(countPinMismatches))
	counter(c.revoked, cs.get(countRevocations))
	for _, sev := range alertSeverities {
		counter(c.alerts, cs.alertCount(sev), sev.String())
	}
	counter(c.webhook, cs.get(countWebhookSent), "sent")
	counter(c.webhook, cs.get(countWebhookFailed), "failed")
	counter(c.webhook, cs.get(countWebhookDropped), "dropped")
	if !scannedAt.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.lastScan, prometheus.GaugeValue, unixSeconds(scannedAt))
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Interface guards
var _ prometheus.Collector = (*collector)(nil)
