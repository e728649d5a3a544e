package pinreport

import (
	"context"
	"iter"
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

// Scan timing after an event: certmagic emits cert_obtained before the
// new certificate is in the cache, so a scan follows the event shortly,
// and a second one a little later.
const (
	scanDebounce = 500 * time.Millisecond
	scanFollowUp = 2 * time.Second
)

// run scans at start, every ScanInterval and after events, until ctx is
// done.
func (a *App) run(ctx context.Context) {
	ticker := time.NewTicker(time.Duration(a.ScanInterval))
	defer ticker.Stop()
	soon := time.NewTimer(0) // the first scan, right away
	defer soon.Stop()
	pending, followUps := true, 1
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			a.scan()
		case <-a.trigger:
			followUps = 1
			if !pending {
				pending = true
				soon.Reset(scanDebounce)
			}
		case <-soon.C:
			a.scan()
			pending = false
			if followUps > 0 {
				followUps--
				pending = true
				soon.Reset(scanFollowUp)
			}
		}
	}
}

// scan rebuilds the inventory from the certificate cache, then raises the
// alerts the changes call for.
func (a *App) scan() {
	start := time.Now()
	now := a.now()
	httpApp, tlsApp, err := certs.Apps(a.ctx)
	if err != nil {
		a.logger.Error("reading the config's sites", zap.Error(err))
	}
	observed := a.state.observed.list()
	names := certs.AppendMissing(certs.Names(httpApp, tlsApp), observed)
	lookup := a.lookup
	if lookup == nil {
		lookup = caddytls.AllMatchingCertificates
		if tlsApp == nil {
			// No tls app, no certificates; Caddy drops its cache
			// when the last tls app goes.
			lookup = func(string) []certmagic.Certificate { return nil }
		}
	}
	found := certs.Collect(names, lookup)
	var policies []*caddytls.AutomationPolicy
	if tlsApp != nil && tlsApp.Automation != nil {
		policies = tlsApp.Automation.Policies
	}

	cl := certs.NewClassifier(a.ctx, a.storage)
	build := func(cert *certmagic.Certificate, in *certs.Interner) *entry {
		return newEntry(cert, cl.Origin(cert), renewalRatio(policies, cert.Names), in)
	}
	ch, alerts, total := a.state.inv.scan(found.Certs, build, func(ch scanChanges, entries iter.Seq[*entry]) []Alert {
		return a.evaluate(ch, entries, now)
	}, now)

	a.state.forget(intersect(found.Missing, observed))
	for _, al := range alerts {
		a.raise(al)
	}
	a.logger.Debug("inventory scanned",
		zap.Int("certificates", total),
		zap.Int("added", len(ch.added)),
		zap.Int("removed", len(ch.removed)),
		zap.Int("replaced", len(ch.replaced)),
		zap.Int("names_without_certificate", len(found.Missing)),
		zap.Duration("took", time.Since(start)))
}

// intersect returns the elements of a that are in b.
func intersect(a, b []string) []string {
	if len(a) == 0 || len(b) == 0 {
		return nil
	}
	set := make(map[string]struct{}, len(b))
	for _, s := range b {
		set[s] = struct{}{}
	}
	var out []string
	for _, s := range a {
		if _, ok := set[s]; ok {
			out = append(out, s)
		}
	}
	return out
}

// evaluate turns a scan's changes and the current inventory into alerts:
// key changes, newly crossed expiry levels and expected-pin mismatches,
// each once per certificate. It is the judge of inventory.scan, which
// holds the inventory's lock.
func (a *App) evaluate(ch scanChanges, entries iter.Seq[*entry], now time.Time) []Alert {
	var alerts []Alert
	for _, r := range ch.replaced {
		oldSerial := certs.SerialHex(r.old.Leaf)
		keyKept := r.old.SPKI == r.new.SPKI
		al := newAlert(EventRenewed, SeverityInfo, now, "certificate renewed")
		al.OldPin, al.NewPin = r.old.SPKI.String(), r.new.SPKI.String()
		al.Detail = "a newer certificate for the same names replaced serial " + oldSerial
		if keyKept {
			al.Detail += "; key kept: pins and TLSA 3 1 1 records stay valid"
		} else {
			al.Detail += "; key changed (see the pin_changed alert)"
		}
		al.Certificate = alertCertificate(&r.new.Facts, now)
		alerts = append(alerts, al)
		if keyKept {
			continue
		}
		a.state.counts.inc(countPinChanges)
		al = newAlert(EventPinChanged, SeverityWarning, now, "certificate key changed")
		al.OldPin, al.NewPin = r.old.SPKI.String(), r.new.SPKI.String()
		al.Detail = "the leaf SPKI pin and its TLSA 3 1 1 record changed (old serial " + oldSerial +
			"); update DANE records and leaf pins, or keep the key with reuse_private_keys"
		al.Certificate = alertCertificate(&r.new.Facts, now)
		alerts = append(alerts, al)
	}
	for e := range entries {
		if lvl, why := a.thresholds.level(e, now); lvl > e.alerted {
			e.alerted = lvl
			if lvl != levelOK {
				alerts = append(alerts, a.thresholds.expiryAlert(e, lvl, why, now))
			}
		}
		if len(a.rules) == 0 {
			continue
		}
		for _, rule := range a.rules.appliesTo(e.Names) {
			if rule.matchesChain(e.ChainPins()) || slices.Contains(e.mismatched, rule.pattern) {
				continue
			}
			e.mismatched = append(e.mismatched, rule.pattern)
			a.state.counts.inc(countPinMismatches)
			al := newAlert(EventPinMismatch, SeverityCritical, now, "expected pin mismatch")
			al.Host = rule.pattern
			al.ExpectedPins = pinStrings(rule.pins)
			al.Detail = "no certificate of the served chain has one of the expected pins; clients that pin " +
				rule.pattern + " refuse this chain"
			al.Certificate = alertCertificate(&e.Facts, now)
			alerts = append(alerts, al)
		}
	}
	return alerts
}
