package tlsguard

import (
	"github.com/prometheus/client_golang/prometheus"
)

// collector exposes the app's counters and its last assessment on Caddy's
// metrics registry. It reads them at scrape time, so a reload that
// replaces the app leaves no stale series behind. Label sets are bounded:
// server and site names come from the config, versions, suites and
// reasons from fixed lists.
type collector struct {
	app *App

	handshakes   *prometheus.Desc
	hellos       *prometheus.Desc
	refused      *prometheus.Desc
	tls13Share   *prometheus.Desc
	keyExchanges *prometheus.Desc
	mlkemHellos  *prometheus.Desc
	mlkemShare   *prometheus.Desc
	pqShare      *prometheus.Desc
	siteHands    *prometheus.Desc
	echHellos    *prometheus.Desc
	echAccepted  *prometheus.Desc
	echShare     *prometheus.Desc
	config       *prometheus.Desc
	findings     *prometheus.Desc
	grade        *prometheus.Desc
	score        *prometheus.Desc
}

func newCollector(a *App) *collector {
	return &collector{
		app: a,
		handshakes: prometheus.NewDesc("tlsguard_handshakes_total",
			"Completed TLS handshakes by negotiated version and cipher suite, and whether the session was resumed.",
			[]string{"server", "version", "cipher_suite", "resumed"}, nil),
		hellos: prometheus.NewDesc("tlsguard_client_hellos_total",
			"ClientHellos of full handshakes by the best protocol version the client offered (tls1.2 means the client would fail under the modern profile).",
			[]string{"server", "max_version"}, nil),
		refused: prometheus.NewDesc("tlsguard_refused_handshakes_total",
			"TLS handshakes that failed, by the reason Go's error gives.",
			[]string{"server", "reason"}, nil),
		tls13Share: prometheus.NewDesc("tlsguard_tls13_client_ratio",
			"Share of ClientHellos (full handshakes) that offer TLS 1.3.",
			[]string{"server"}, nil),
		keyExchanges: prometheus.NewDesc("tlsguard_key_exchanges_total",
			"Completed TLS handshakes by negotiated key exchange group (x25519mlkem768 is post-quantum; none is TLS 1.2 without ECDHE; other is any group ID tlsguard does not know), and whether the server sent a HelloRetryRequest for it.",
			[]string{"server", "group", "hello_retry_request"}, nil),
		mlkemHellos: prometheus.NewDesc("tlsguard_mlkem_client_hellos_total",
			"ClientHellos of full handshakes by whether the client offers an ML-KEM hybrid key exchange group (X25519MLKEM768, SecP256r1MLKEM768, SecP384r1MLKEM1024).",
			[]string{"server", "offered"}, nil),
		mlkemShare: prometheus.NewDesc("tlsguard_mlkem_client_ratio",
			"Share of ClientHellos (full handshakes) that offer an ML-KEM hybrid key exchange group.",
			[]string{"server"}, nil),
		pqShare: prometheus.NewDesc("tlsguard_post_quantum_handshake_ratio",
			"Share of completed TLS handshakes whose key exchange was an ML-KEM hybrid.",
			[]string{"server"}, nil),
		siteHands: prometheus.NewDesc("tlsguard_site_handshakes_total",
			"Completed TLS handshakes of each site (by the server name the client asked for) by key exchange kind (post_quantum, classical, none) and whether they accepted Encrypted ClientHello.",
			[]string{"server", "site", "key_exchange", "ech_accepted"}, nil),
		echHellos: prometheus.NewDesc("tlsguard_ech_client_hellos_total",
			"ClientHellos of full handshakes that carry the Encrypted ClientHello extension (browsers send a GREASE one when they know no ECH config).",
			[]string{"server"}, nil),
		echAccepted: prometheus.NewDesc("tlsguard_ech_accepted_handshakes_total",
			"Completed TLS handshakes in which the server decrypted an Encrypted ClientHello.",
			[]string{"server"}, nil),
		echShare: prometheus.NewDesc("tlsguard_ech_accepted_ratio",
			"Share of completed TLS handshakes that accepted Encrypted ClientHello; only where ECH is configured.",
			[]string{"server"}, nil),
		config: prometheus.NewDesc("tlsguard_config_info",
			"The tlsguard profile and mode of the running config; always 1.",
			[]string{"profile", "mode"}, nil),
		findings: prometheus.NewDesc("tlsguard_findings",
			"Findings of the report (policies, certificates, sites), by severity.",
			[]string{"severity"}, nil),
		grade: prometheus.NewDesc("tlsguard_site_grade_info",
			"The rating-guide grade of each site; always 1.",
			[]string{"server", "site", "grade"}, nil),
		score: prometheus.NewDesc("tlsguard_site_score",
			"The rating-guide final score (0-100) of each site.",
			[]string{"server", "site"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.handshakes, c.hellos, c.refused, c.tls13Share, c.keyExchanges, c.mlkemHellos,
		c.mlkemShare, c.pqShare, c.siteHands, c.echHellos, c.echAccepted, c.echShare, c.config, c.findings, c.grade, c.score} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	a := c.app
	ch <- prometheus.MustNewConstMetric(c.config, prometheus.GaugeValue, 1, a.profile.Name, string(a.Mode))
	for _, srv := range a.servers {
		if srv.stats != nil {
			c.collectStats(ch, srv.name, srv.stats.snapshot(srv.hosts()), a.echNames != nil)
		}
	}
	as := a.lastAssessment()
	if as == nil {
		return
	}
	// The same findings as the report: the config's policy findings,
	// then this assessment's certificate and site findings.
	for _, sev := range []Severity{SeverityError, SeverityWarning, SeverityInfo} {
		n := a.findings.count(sev) + as.findings.count(sev)
		ch <- prometheus.MustNewConstMetric(c.findings, prometheus.GaugeValue, float64(n), sev.String())
	}
	for _, srv := range as.servers {
		for _, s := range srv.Sites {
			if s.Grade == nil {
				continue
			}
			ch <- prometheus.MustNewConstMetric(c.grade, prometheus.GaugeValue, 1, srv.Name, s.Host, s.Grade.Grade)
			ch <- prometheus.MustNewConstMetric(c.score, prometheus.GaugeValue, float64(s.Grade.Score), srv.Name, s.Host)
		}
	}
}

// collectStats emits one server's counters; withECH says whether ECH is
// configured.
func (c *collector) collectStats(ch chan<- prometheus.Metric, server string, s *statsSnapshot, withECH bool) {
	counter := func(d *prometheus.Desc, n uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), labels...)
	}
	gauge := func(d *prometheus.Desc, v *float64, labels ...string) {
		if v != nil {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, *v, labels...)
		}
	}
	for v := range numVersionSlots {
		for cs := range maxSuiteSlots {
			for r, resumed := range []string{"false", "true"} {
				// Only combinations that occurred: most of the
				// version-suite grid cannot happen.
				if n := s.handshakes[v][cs][r]; n > 0 {
					counter(c.handshakes, n, server, versionSlotNames[v], suiteSlotName(cs), resumed)
				}
			}
		}
		counter(c.hellos, s.hellos[v], server, versionSlotNames[v])
	}
	gauge(c.tls13Share, s.tls13ClientShare(), server)
	for r := range numReasons {
		counter(c.refused, s.refused[r], server, reasonNames[r])
	}
	for g := range numGroupSlots {
		for h, hrr := range []string{"false", "true"} {
			counter(c.keyExchanges, s.groups[g][h], server, groupSlotNames[g], hrr)
		}
	}
	for o, offered := range []string{"false", "true"} {
		counter(c.mlkemHellos, s.mlkemHello[o], server, offered)
	}
	gauge(c.mlkemShare, s.mlkemClientShare(), server)
	gauge(c.pqShare, s.postQuantumShare(), server)
	echLabels := []string{"false"}
	if withECH {
		echLabels = append(echLabels, "true")
	}
	for site, ss := range s.sites {
		for k := range numKexKinds {
			for e, accepted := range echLabels {
				counter(c.siteHands, ss[k][e], server, site, kexKindNames[k], accepted)
			}
		}
	}
	counter(c.echHellos, s.echHello, server)
	counter(c.echAccepted, s.echDone, server)
	if withECH {
		gauge(c.echShare, s.echAcceptedShare(), server)
	}
}

// Interface guards
var _ prometheus.Collector = (*collector)(nil)
