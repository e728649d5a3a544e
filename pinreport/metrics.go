package pinreport

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// collector exposes the inventory as Prometheus metrics. It reads the
// inventory at scrape time instead of keeping gauges up to date, so a
// certificate that leaves the cache, or a config that is replaced, leaves
// no stale series behind.
type collector struct {
	inv    *inventory
	counts *counters
	// minSeries is the lowest level whose certificates get series of
	// their own; numLevels for none.
	minSeries level
	rev       *revocationMonitor // nil when the checks are off

	notAfter, notBefore, certs         *prometheus.Desc
	renewals, renewalFailures, obtainF *prometheus.Desc
	pinChanges, pinMismatches, revoked *prometheus.Desc
	alerts, webhook, lastScan          *prometheus.Desc
	revStatus, crlFetches, crlBytes    *prometheus.Desc
	crlsCached                         *prometheus.Desc

	kindLabels [numKinds]*dto.LabelPair // issuer_kind="...", shared by every series
}

// certLabels identify a certificate across renewals: its first name and
// who issues it. Serials and hashes would start a new series with every
// renewal.
var certLabels = []string{"name", "issuer_kind"}

func newCollector(inv *inventory, counts *counters, minSeries level, rev *revocationMonitor) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("pinreport_"+name, help, labels, nil)
	}
	c := &collector{
		inv:       inv,
		counts:    counts,
		minSeries: minSeries,
		rev:       rev,
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
			"Certificates found revoked, once each, by source: crl, ocsp_staple (the response Caddy staples) or ocsp (certmagic's own check).", "source"),
		revStatus: d("revocation_status",
			"Certificates by their last revocation check: good, revoked, unknown (the CRL or staple gives no trustworthy answer) or unchecked (names no CRL nor OCSP responder, or not checked yet).", "status"),
		crlFetches: d("crl_fetches_total",
			"CRL requests sent, by result: ok (a CRL), not_modified (304) or failed.", "result"),
		crlBytes: d("crl_fetched_bytes_total",
			"Bytes of CRL bodies read."),
		crlsCached: d("crls_cached",
			"CRLs in the checker's cache."),
		alerts: d("alerts_total",
			"Alerts raised, by severity.", "severity"),
		webhook: d("webhook_deliveries_total",
			"Webhook deliveries by result: sent, failed (after retries) or dropped (queue full).", "result"),
		lastScan: d("last_scan_timestamp_seconds",
			"When the inventory was last reconciled in full with the certificate cache, as a Unix timestamp."),
	}
	for k := range c.kindLabels {
		kind := IssuerKind(k).String()
		c.kindLabels[k] = &dto.LabelPair{Name: &certLabels[1], Value: &kind}
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.notAfter, c.notBefore, c.certs, c.renewals, c.renewalFailures, c.obtainF,
		c.pinChanges, c.pinMismatches, c.revoked, c.alerts, c.webhook, c.lastScan,
		c.revStatus, c.crlFetches, c.crlBytes, c.crlsCached,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	// Two certificates can share a label set (the same first name and
	// kind while an old and a new one are both cached); the registry
	// refuses duplicate series, so the one expiring last is reported.
	entries := c.inv.seriesEntries(c.minSeries)
	series := make([]certSeries, 2*len(entries)) // one allocation for all
	for i, e := range entries {
		na, nb := &series[2*i], &series[2*i+1]
		*na = certSeries{desc: c.notAfter, kind: c.kindLabels[e.Kind], name: e.FirstName(), value: unixSeconds(e.Leaf.NotAfter)}
		*nb = certSeries{desc: c.notBefore, kind: c.kindLabels[e.Kind], name: na.name, value: unixSeconds(e.Leaf.NotBefore)}
		ch <- na
		ch <- nb
	}
	for lvl, n := range c.inv.levelCounts() {
		ch <- prometheus.MustNewConstMetric(c.certs, prometheus.GaugeValue, float64(n), level(lvl).String())
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
	for _, src := range revocationSources {
		counter(c.revoked, cs.revokedCount(src), src)
	}
	for st, n := range c.inv.revocationCounts() {
		ch <- prometheus.MustNewConstMetric(c.revStatus, prometheus.GaugeValue, float64(n), revStatus(st).String())
	}
	if c.rev != nil {
		st := c.rev.checker.Stats()
		counter(c.crlFetches, uint64(st.OK), "ok")
		counter(c.crlFetches, uint64(st.NotModified), "not_modified")
		counter(c.crlFetches, uint64(st.Failures), "failed")
		counter(c.crlBytes, uint64(st.Bytes))
		ch <- prometheus.MustNewConstMetric(c.crlsCached, prometheus.GaugeValue, float64(st.Cached))
	}
	for _, sev := range alertSeverities {
		counter(c.alerts, cs.alertCount(sev), sev.String())
	}
	counter(c.webhook, cs.get(countWebhookSent), "sent")
	counter(c.webhook, cs.get(countWebhookFailed), "failed")
	counter(c.webhook, cs.get(countWebhookDropped), "dropped")
	if reconciled, _ := c.inv.times(); !reconciled.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.lastScan, prometheus.GaugeValue, unixSeconds(reconciled))
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// certSeries is the gauge of one certificate: what
// prometheus.MustNewConstMetric makes, with the issuer_kind label shared
// by every series of a kind and the series of a scrape allocated at once,
// since a scrape of a large inventory writes hundreds of thousands.
type certSeries struct {
	desc  *prometheus.Desc
	kind  *dto.LabelPair
	name  string
	value float64
}

// Desc implements prometheus.Metric.
func (m *certSeries) Desc() *prometheus.Desc { return m.desc }

// Write implements prometheus.Metric; labels are in order of their names,
// as the registry wants them.
func (m *certSeries) Write(out *dto.Metric) error {
	out.Label = []*dto.LabelPair{m.kind, {Name: &certLabels[0], Value: &m.name}}
	out.Gauge = &dto.Gauge{Value: &m.value}
	return nil
}

// Interface guards
var _ prometheus.Collector = (*collector)(nil)
