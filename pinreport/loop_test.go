package pinreport

import (
	"context"
	"crypto"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// messages returns the messages logged, in order, and clears the log.
func messages(logs *observer.ObservedLogs) []string {
	var out []string
	for _, e := range logs.TakeAll() {
		if !strings.HasPrefix(e.Message, "inventory ") {
			out = append(out, e.Message)
		}
	}
	return out
}

func TestAlertsOncePerCertificate(t *testing.T) {
	ca := newTestCA(t, "scan")
	tc := newTestCache(t)
	clk := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	nb := clk.t
	first := tc.add(t, ca.leaf(t, []string{"a.example"}, nb, nb.Add(90*24*time.Hour), nil))
	a, logs := testApp(t, tc, "a.example")
	a.now = clk.now

	reconcile(a)
	if got := messages(logs); len(got) != 0 {
		t.Fatalf("fresh certificate: logged %v", got)
	}
	if all := a.state.inv.all(); len(all) != 1 || all[0].Hash != first.Hash() {
		t.Fatalf("inventory %v; want the one cached certificate", all)
	}

	// Past the renewal point and its grace: a warning, once, whether
	// the schedule or a reconcile comes first.
	clk.t = nb.Add(61 * 24 * time.Hour)
	settle(a)
	reconcile(a)
	settle(a)
	if got := messages(logs); len(got) != 1 || got[0] != "renewal overdue" {
		t.Fatalf("overdue: logged %v; want one renewal overdue", got)
	}

	// Critical, then expired: one line each.
	clk.t = nb.Add(85 * 24 * time.Hour)
	settle(a)
	clk.t = nb.Add(91 * 24 * time.Hour)
	settle(a)
	settle(a)
	if got := messages(logs); len(got) != 2 || got[0] != "certificate expiring" || got[1] != "certificate expired" {
		t.Fatalf("critical then expired: logged %v", got)
	}

	// A renewal with a new key, announced by certmagic's event before
	// the cache holds it: an info alert that it was renewed, a pin
	// change, and the thresholds re-arm for the new certificate.
	renewedAt := clk.t
	a.handleEvent(newEvent(t, "cert_obtained", map[string]any{"identifier": "a.example", "renewal": true}))
	tc.remove(first)
	renewed := tc.add(t, ca.leaf(t, []string{"a.example"}, renewedAt, renewedAt.Add(90*24*time.Hour), nil))
	settle(a)
	if got := messages(logs); len(got) != 3 || got[0] != "certificate obtained" || got[1] != "certificate renewed" || got[2] != "certificate key changed" {
		t.Fatalf("renewal: logged %v; want obtained, renewed, then one key change", got)
	}
	if a.state.counts.get(countPinChanges) != 1 {
		t.Errorf("pin changes %d, want 1", a.state.counts.get(countPinChanges))
	}
	clk.t = renewedAt.Add(61 * 24 * time.Hour)
	settle(a)
	if got := messages(logs); len(got) != 1 || got[0] != "renewal overdue" {
		t.Fatalf("renewed certificate overdue: logged %v; want the warning again", got)
	}

	// A renewal that keeps the key: no pin change.
	key := renewed.PrivateKey
	tc.remove(renewed)
	tc.add(t, ca.leaf(t, []string{"a.example"}, clk.t, clk.t.Add(90*24*time.Hour), key.(crypto.Signer)))
	reconcile(a)
	entries := logs.FilterMessage("certificate renewed").All()
	logs.TakeAll()
	if len(entries) != 1 || entries[0].Message != "certificate renewed" || entries[0].Level != zapcore.InfoLevel {
		t.Fatalf("same-key renewal: logged %v; want one info alert", entries)
	}
	if f := entries[0].ContextMap(); f["event"] != EventRenewed || f["severity"] != "info" || f["old_pin"] != f["new_pin"] ||
		!strings.Contains(f["detail"].(string), "key kept") {
		t.Errorf("same-key renewal alert %v", f)
	}
	if a.state.counts.get(countPinChanges) != 1 {
		t.Errorf("pin changes %d after a same-key renewal, want still 1", a.state.counts.get(countPinChanges))
	}
	if n := a.state.counts.alertCount(SeverityWarning) + a.state.counts.alertCount(SeverityCritical); n != 5 {
		t.Errorf("%d warning and critical alerts counted; want 5 (2 overdue, expiring, expired, key change)", n)
	}
	if n := a.state.counts.alertCount(SeverityInfo); n != 2 {
		t.Errorf("%d info alerts counted; want 2 (two renewals)", n)
	}
}

func TestPinMismatch(t *testing.T) {
	ca := newTestCA(t, "pins")
	tc := newTestCache(t)
	now := time.Now()
	leafKey := newKey(t)
	tc.add(t, ca.leaf(t, []string{"a.example"}, now, now.Add(24*time.Hour), leafKey))
	tc.add(t, ca.leaf(t, []string{"b.example"}, now, now.Add(24*time.Hour), nil))
	a, logs := testApp(t, tc, "a.example", "b.example")
	leafPin := SPKIPin(mustLeaf(t, tc, "a.example"))
	var err error
	a.rules, err = compilePins(map[string][]string{
		"a.example": {leafPin.String(), Pin{9}.String()}, // the leaf and a backup
		"b.example": {Pin{7}.String(), Pin{8}.String()},  // matches nothing
		"*.example": {SPKIPin(ca.inter).OkHttp()},        // the issuer
	})
	if err != nil {
		t.Fatal(err)
	}

	reconcile(a)
	reconcile(a)
	var mismatches []string
	for _, e := range logs.FilterMessage("expected pin mismatch").All() {
		mismatches = append(mismatches, e.ContextMap()["host"].(string))
	}
	if len(mismatches) != 1 || mismatches[0] != "b.example" {
		t.Fatalf("mismatches for %v; want b.example once", mismatches)
	}
	if a.state.counts.get(countPinMismatches) != 1 {
		t.Errorf("pin mismatches counted %d, want 1", a.state.counts.get(countPinMismatches))
	}

	// a.example is renewed with a new key: its leaf pin no longer
	// matches, a mismatch caused by the renewal.
	logs.TakeAll()
	tc.remove(certFor(t, tc, "a.example"))
	tc.add(t, ca.leaf(t, []string{"a.example"}, now.Add(time.Minute), now.Add(25*time.Hour), nil))
	reconcile(a)
	got := logs.FilterMessage("expected pin mismatch").All()
	if len(got) != 1 || got[0].ContextMap()["host"] != "a.example" {
		t.Fatalf("after a key change: mismatches %v; want a.example", got)
	}
	if len(logs.FilterMessage("certificate key changed").All()) != 1 {
		t.Error("the key change itself was not logged")
	}
}

func TestReconcileDropsEvicted(t *testing.T) {
	ca := newTestCA(t, "forget")
	tc := newTestCache(t)
	now := time.Now()
	c := tc.add(t, ca.leaf(t, []string{"ondemand.example"}, now, now.Add(time.Hour), nil))
	a, _ := testApp(t, tc)
	reconcile(a)
	a.handleEvent(newEvent(t, "cached_managed_cert", map[string]any{"sans": []string{"ondemand.example"}}))
	a.handleEvent(newEvent(t, "cert_obtained", map[string]any{"identifier": "ondemand.example"}))
	settle(a)
	if names := a.ObservedNames(); len(names) != 1 || names[0] != "ondemand.example" {
		t.Fatalf("observed %v after the event; want the cached name", names)
	}
	// The cache evicts it without an event; the next reconcile finds it
	// gone, and forgets its renewal status.
	tc.remove(c)
	reconcile(a)
	if n := a.state.inv.size(); n != 0 {
		t.Errorf("inventory holds %d entries after eviction", n)
	}
	if st := a.state.renewals.status([]string{"ondemand.example"}); !st.lastObtained.IsZero() {
		t.Errorf("renewal status of an evicted name kept: %+v", st)
	}
}

// TestNoWorkBetweenReconciles: with nothing announced and no level due,
// the loop's work looks up no name, however much time passes.
func TestNoWorkBetweenReconciles(t *testing.T) {
	ca := newTestCA(t, "idle")
	tc := newTestCache(t)
	clk := &clock{t: time.Now().Truncate(time.Second)}
	var names []string
	for i := range 200 {
		name := fmt.Sprintf("host%d.example", i)
		names = append(names, name)
		tc.add(t, ca.leaf(t, []string{name}, clk.t, clk.t.Add(90*24*time.Hour), nil))
	}
	a, _ := testApp(t, tc, names...)
	var lookups atomic.Int64
	a.lookup = countingLookup(tc, &lookups)
	a.now = clk.now
	reconcile(a)
	if n := lookups.Load(); n != 200 {
		t.Fatalf("a reconcile of 200 names made %d lookups", n)
	}
	lookups.Store(0)
	for range 24 * 60 { // a day, a minute at a time
		clk.t = clk.t.Add(time.Minute)
		a.applyDue()
	}
	if n := lookups.Load(); n != 0 {
		t.Errorf("%d lookups between reconciles; want none", n)
	}
	if due := a.untilNext(time.Time{}); due < 59*24*time.Hour && due != maxLoopTimeout {
		t.Errorf("the loop would wake in %s; want the next level change, 59 days away, or its longest sleep", due)
	}
}

func TestRunFollowsEventsAndStops(t *testing.T) {
	ca := newTestCA(t, "run")
	tc := newTestCache(t)
	a, _ := testApp(t, tc)
	a.ScanInterval = caddy.Duration(time.Hour)
	a.policy = a.state.newPolicy(a.thresholds, a.rules)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.run(ctx); close(done) }()

	waitFor(t, "the first reconcile", func() bool { at, _ := a.state.inv.times(); return !at.IsZero() })
	now := time.Now()
	// certmagic announces a certificate the config loads before the
	// cache holds it.
	a.handleEvent(newEvent(t, "cached_unmanaged_cert", map[string]any{"sans": []string{"late.example"}}))
	tc.add(t, ca.leaf(t, []string{"late.example"}, now, now.Add(time.Hour), nil))
	waitFor(t, "the announced certificate", func() bool { return a.state.inv.size() == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop when its context was canceled")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
