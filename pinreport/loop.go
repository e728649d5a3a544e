package pinreport

import (
	"context"
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

// Timing of reconciles beside scan_interval: a second one shortly after
// start, and one shortly after an older config stops (it may take
// certificates out of the cache without events: its manual certificates,
// names the new config does not manage).
const (
	startFollowUp  = 2 * time.Second
	cleanupDelay   = 250 * time.Millisecond
	maxLoopTimeout = time.Hour
)

// run reconciles at start, every ScanInterval and when asked, and
// otherwise looks up the names events announce and applies the level
// changes as they fall due, until ctx is done. Between reconciles it does
// no work per certificate.
func (a *App) run(ctx context.Context) {
	a.reconcile()
	ticker := time.NewTicker(time.Duration(a.ScanInterval))
	defer ticker.Stop()
	timer := time.NewTimer(0)
	defer timer.Stop()
	reconcileAt := time.Now().Add(startFollowUp)
	for {
		wait := a.untilNext(reconcileAt)
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			a.reconcile()
		case <-a.state.reconcileSoon:
			if at := time.Now().Add(cleanupDelay); reconcileAt.IsZero() || at.Before(reconcileAt) {
				reconcileAt = at
			}
		case <-a.state.pending.wake:
		case <-timer.C:
			if !reconcileAt.IsZero() && !time.Now().Before(reconcileAt) {
				reconcileAt = time.Time{}
				a.reconcile()
			}
			a.applyDue()
		}
	}
}

// untilNext returns how long the loop may sleep: until the next pending
// lookup, level change or requested reconcile.
func (a *App) untilNext(reconcileAt time.Time) time.Duration {
	next := reconcileAt
	for _, t := range []time.Time{a.state.pending.nextDue(), a.state.inv.nextDue()} {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if next.IsZero() {
		return maxLoopTimeout
	}
	// Level changes are due by the app's clock, which tests set; the
	// timer runs on the real one.
	return min(max(next.Sub(a.now()), 0), maxLoopTimeout)
}

// lookupFunc returns the certificate cache lookup of the config.
func (a *App) lookupFunc() certs.Lookup {
	switch {
	case a.lookup != nil:
		return a.lookup
	case a.tlsApp == nil:
		// No tls app, no certificates; Caddy drops its cache when the
		// last tls app goes.
		return func(string) []certmagic.Certificate { return nil }
	}
	return caddytls.AllMatchingCertificates
}

// builder returns how the app computes the entry of a new certificate,
// with one Classifier for a batch.
func (a *App) builder() builder {
	if a.buildEntry != nil {
		return a.buildEntry
	}
	var policies []*caddytls.AutomationPolicy
	if a.tlsApp != nil && a.tlsApp.Automation != nil {
		policies = a.tlsApp.Automation.Policies
	}
	cl := certs.NewClassifier(a.ctx, a.storage)
	return func(cert *certmagic.Certificate, in *certs.Interner) *entry {
		return newEntry(cert, cl.Origin(cert), renewalRatio(policies, cert.Names), in)
	}
}

// reconcile rebuilds the inventory from the certificate cache: it looks
// up every name the config serves and every name of the inventory, adds
// what it did not know, drops what left, and raises the alerts the
// changes call for.
func (a *App) reconcile() {
	start := time.Now()
	now := a.now()
	names := mergeSorted(mergeSorted(certs.Names(a.httpApp, a.tlsApp), a.extraNames), a.state.inv.firstNames())
	found := certs.Collect(names, a.lookupFunc())
	ch, ok := a.state.inv.reconcile(a.policy, found.Certs, a.builder(), now)
	if !ok {
		return // a newer config runs
	}
	a.state.renewals.forget(found.Missing)
	a.raiseAll(a.alertsFor(ch, now))
	a.logger.Debug("inventory reconciled",
		zap.Int("certificates", a.state.inv.size()),
		zap.Int("names", len(names)),
		zap.Int("added", len(ch.added)),
		zap.Int("removed", len(ch.removed)),
		zap.Int("replaced", len(ch.replaced)),
		zap.Int("names_without_certificate", len(found.Missing)),
		zap.Duration("took", time.Since(start)))
}

// applyDue looks up the names events announced that are due, and applies
// the level changes due.
func (a *App) applyDue() {
	now := a.now()
	a.lookUpPending(a.state.pending.take(now), now)
	a.advance(now)
}

// advance applies the level changes due at now.
func (a *App) advance(now time.Time) {
	a.raiseAll(a.alertsFor(a.state.inv.advance(a.policy, now, a.lookupFunc(), a.builder()), now))
}

// lookUpPending looks up names events announced, and queues the next
// lookup of those that found no certificate new to the inventory.
func (a *App) lookUpPending(due []pendingName, now time.Time) {
	if len(due) == 0 {
		return
	}
	names := make([]string, len(due))
	for i, n := range due {
		names[i] = n.name
	}
	ch := a.state.inv.refresh(a.policy, names, a.lookupFunc(), a.builder(), now)
	for _, n := range due {
		// Look again later unless a certificate new to the inventory
		// bears the name: the cache may not hold it yet.
		if !slices.ContainsFunc(ch.added, func(e *entry) bool { return slices.Contains(e.Names, n.name) }) {
			a.state.pending.retry(n)
		}
	}
	a.raiseAll(a.alertsFor(ch, now))
	if !ch.empty() {
		a.logger.Debug("inventory updated",
			zap.Strings("names", names),
			zap.Int("added", len(ch.added)),
			zap.Int("removed", len(ch.removed)),
			zap.Int("replaced", len(ch.replaced)))
	}
}

// mergeSorted merges two sorted lists of names into one, each name once.
func mergeSorted(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var n string
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			n, i = a[i], i+1
		case i == len(a) || b[j] < a[i]:
			n, j = b[j], j+1
		default:
			n, i, j = a[i], i+1, j+1
		}
		if len(out) == 0 || out[len(out)-1] != n {
			out = append(out, n)
		}
	}
	return out
}

// alertsFor turns changes of the inventory into alerts: renewals, key
// changes, expiry levels reached and expected-pin mismatches.
func (a *App) alertsFor(ch changes, now time.Time) []Alert {
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
		summary, oldPin, newPin := al.Certificate, al.OldPin, al.NewPin
		al = newAlert(EventPinChanged, SeverityWarning, now, "certificate key changed")
		al.OldPin, al.NewPin = oldPin, newPin
		al.Detail = "the leaf SPKI pin and its TLSA 3 1 1 record changed (old serial " + oldSerial +
			"); update DANE records and leaf pins, or keep the key with reuse_private_keys"
		al.Certificate = summary // read-only: both alerts may share it
		alerts = append(alerts, al)
	}
	for _, lc := range ch.levels {
		if lc.lvl != levelOK {
			alerts = append(alerts, a.thresholds.expiryAlert(lc.e, lc.lvl, lc.why, now))
		}
	}
	for _, m := range ch.mismatches {
		a.state.counts.inc(countPinMismatches)
		al := newAlert(EventPinMismatch, SeverityCritical, now, "expected pin mismatch")
		al.Host = m.rule.pattern
		al.ExpectedPins = pinStrings(m.rule.pins)
		al.Detail = "no certificate of the served chain has one of the expected pins; clients that pin " +
			m.rule.pattern + " refuse this chain"
		al.Certificate = alertCertificate(&m.e.Facts, now)
		alerts = append(alerts, al)
	}
	return alerts
}

// raiseAll raises alerts in order.
func (a *App) raiseAll(alerts []Alert) {
	for _, al := range alerts {
		a.raise(al)
	}
}
