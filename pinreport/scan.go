package pinreport

import (
	"context"
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
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
	httpApp, tlsApp, err := apps(a.ctx)
	if err != nil {
		a.logger.Error("reading the config's sites", zap.Error(err))
	}
	names := ServedNames(httpApp, tlsApp)
	observed := a.state.observedNames()
	names = append(names, without(observed, names)...)
	lookup := a.lookup
	if lookup == nil {
		lookup = caddytls.AllMatchingCertificates
		if tlsApp == nil {
			// No tls app, no certificates; Caddy drops its cache
			// when the last tls app goes.
			lookup = func(string) []certmagic.Certificate { return nil }
		}
	}
	s := a.state
	s.scanMu.Lock()
	found := s.sight(names, lookup)
	cl := a.newClassifier(tlsApp)
	ch := s.update(found, func(cert certmagic.Certificate) *entry {
		o := cl.origin(cert)
		return newEntry(cert, o, cl.ratio(cert.Names), s.intern)
	})
	alerts := a.evaluate(ch, now)
	s.publish(ch, now)
	total := len(s.byHash)
	s.scanMu.Unlock()

	s.forget(intersect(found.missing, observed))
	for _, al := range alerts {
		a.raise(al)
	}
	a.logger.Debug("inventory scanned",
		zap.Int("certificates", total),
		zap.Int("added", len(ch.added)),
		zap.Int("removed", len(ch.removed)),
		zap.Int("replaced", len(ch.replaced)),
		zap.Duration("took", time.Since(start)))
}

// without returns the elements of a that are not in b.
func without(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	set := make(map[string]struct{}, len(b))
	for _, s := range b {
		set[s] = struct{}{}
	}
	out := a[:0:0]
	for _, s := range a {
		if _, ok := set[s]; !ok {
			out = append(out, s)
		}
	}
	return out
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
// each once per certificate. The caller holds scanMu.
func (a *App) evaluate(ch scanChanges, now time.Time) []Alert {
	var alerts []Alert
	for _, r := range ch.replaced {
		if r.old.spki == r.new.spki {
			a.logger.Info("certificate replaced; key unchanged",
				zap.Strings("names", r.new.names),
				zap.String("old_serial", serialHex(r.old.leaf)),
				zap.String("new_serial", serialHex(r.new.leaf)),
				zap.String("pin", r.new.spki.String()))
			continue
		}
		a.state.pinChanges.Add(1)
		al := newAlert(EventPinChanged, SeverityWarning, now, "certificate key changed")
		al.OldPin, al.NewPin = r.old.spki.String(), r.new.spki.String()
		al.Detail = "the leaf SPKI pin and its TLSA 3 1 1 record changed (old serial " + serialHex(r.old.leaf) +
			"); update DANE records and leaf pins, or keep the key with reuse_private_keys"
		al.Certificate = alertCertificate(r.new, now)
		alerts = append(alerts, al)
	}
	for _, e := range a.state.byHash {
		if lvl, why := a.thresholds.level(e, now); lvl > e.alerted {
			e.alerted = lvl
			if lvl != levelOK {
				alerts = append(alerts, a.thresholds.expiryAlert(e, lvl, why, now))
			}
		}
		if len(a.rules) == 0 {
			continue
		}
		for _, rule := range a.rules.appliesTo(e.names) {
			if rule.matchesChain(e.chainPins()) || slices.Contains(e.mismatched, rule.pattern) {
				continue
			}
			e.mismatched = append(e.mismatched, rule.pattern)
			a.state.pinMismatches.Add(1)
			al := newAlert(EventPinMismatch, SeverityCritical, now, "expected pin mismatch")
			al.Host = rule.pattern
			al.ExpectedPins = pinStrings(rule.pins)
			al.Detail = "no certificate of the served chain has one of the expected pins; clients that pin " +
				rule.pattern + " refuse this chain"
			al.Certificate = alertCertificate(e, now)
			alerts = append(alerts, al)
		}
	}
	return alerts
}
