package pinreport

import (
	"context"
	"crypto"
	"strings"
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
		if e.Message != "inventory scanned" {
			out = append(out, e.Message)
		}
	}
	return out
}

func TestScanAlertsOncePerCertificate(t *testing.T) {
	ca := newTestCA(t, "scan")
	tc := newTestCache(t)
	clk := &clock{t: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	nb := clk.t
	first := tc.add(t, ca.leaf(t, []string{"a.example"}, nb, nb.Add(90*24*time.Hour), nil))
	a, logs := testApp(t, tc, "a.example")
	a.now = clk.now

	a.scan()
	if got := messages(logs); len(got) != 0 {
		t.Fatalf("fresh certificate: logged %v", got)
	}
	if view, _ := a.state.inv.snapshot(); len(view) != 1 || view[0].Hash != first.Hash() {
		t.Fatalf("inventory %v; want the one cached certificate", view)
	}

	// Past the renewal point and its grace: a warning, once.
	clk.t = nb.Add(61 * 24 * time.Hour)
	a.scan()
	a.scan()
	if got := messages(logs); len(got) != 1 || got[0] != "renewal overdue" {
		t.Fatalf("overdue: logged %v; want one renewal overdue", got)
	}

	// Critical, then expired: one line each.
	clk.t = nb.Add(85 * 24 * time.Hour)
	a.scan()
	clk.t = nb.Add(91 * 24 * time.Hour)
	a.scan()
	a.scan()
	if got := messages(logs); len(got) != 2 || got[0] != "certificate expiring" || got[1] != "certificate expired" {
		t.Fatalf("critical then expired: logged %v", got)
	}

	// A renewal with a new key: an info alert that it was renewed, a pin
	// change, and the thresholds re-arm for the new certificate.
	renewedAt := clk.t
	tc.remove(first)
	renewed := tc.add(t, ca.leaf(t, []string{"a.example"}, renewedAt, renewedAt.Add(90*24*time.Hour), nil))
	a.scan()
	if got := messages(logs); len(got) != 2 || got[0] != "certificate renewed" || got[1] != "certificate key changed" {
		t.Fatalf("renewal: logged %v; want renewed, then one key change", got)
	}
	if a.state.counts.get(countPinChanges) != 1 {
		t.Errorf("pin changes %d, want 1", a.state.counts.get(countPinChanges))
	}
	clk.t = renewedAt.Add(61 * 24 * time.Hour)
	a.scan()
	if got := messages(logs); len(got) != 1 || got[0] != "renewal overdue" {
		t.Fatalf("renewed certificate overdue: logged %v; want the warning again", got)
	}

	// A renewal that keeps the key: no pin change.
	key := renewed.PrivateKey
	tc.remove(renewed)
	tc.add(t, ca.leaf(t, []string{"a.example"}, clk.t, clk.t.Add(90*24*time.Hour), key.(crypto.Signer)))
	a.scan()
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

func TestScanPinMismatch(t *testing.T) {
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

	a.scan()
	a.scan()
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
	a.scan()
	got := logs.FilterMessage("expected pin mismatch").All()
	if len(got) != 1 || got[0].ContextMap()["host"] != "a.example" {
		t.Fatalf("after a key change: mismatches %v; want a.example", got)
	}
	if len(logs.FilterMessage("certificate key changed").All()) != 1 {
		t.Error("the key change itself was not logged")
	}
}

func TestScanForgetsEvictedObservedNames(t *testing.T) {
	ca := newTestCA(t, "forget")
	tc := newTestCache(t)
	now := time.Now()
	c := tc.add(t, ca.leaf(t, []string{"ondemand.example"}, now, now.Add(time.Hour), nil))
	a, _ := testApp(t, tc, "ondemand.example", "gone.example")
	a.scan()
	if names := a.state.observed.list(); len(names) != 1 || names[0] != "ondemand.example" {
		t.Fatalf("observed %v after a scan; want only the cached name", names)
	}
	tc.remove(c)
	a.scan()
	if names := a.state.observed.list(); len(names) != 0 {
		t.Errorf("observed %v after eviction; want none", names)
	}
	if view, _ := a.state.inv.snapshot(); len(view) != 0 {
		t.Errorf("inventory holds %d entries after eviction", len(view))
	}
}

func TestRunScansOnTriggerAndStops(t *testing.T) {
	ca := newTestCA(t, "run")
	tc := newTestCache(t)
	a, _ := testApp(t, tc)
	a.ScanInterval = caddy.Duration(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.run(ctx); close(done) }()

	waitFor(t, "the first scan", func() bool { _, at := a.state.inv.snapshot(); return !at.IsZero() })
	now := time.Now()
	tc.add(t, ca.leaf(t, []string{"late.example"}, now, now.Add(time.Hour), nil))
	a.state.observed.add([]string{"late.example"})
	a.requestScan()
	a.requestScan() // coalesced
	waitFor(t, "a scan after the trigger", func() bool { v, _ := a.state.inv.snapshot(); return len(v) == 1 })
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

func TestIntersect(t *testing.T) {
	if got := intersect([]string{"a", "b", "c"}, []string{"c", "a"}); len(got) != 2 || got[0] != "a" || got[1] != "c" {
		t.Errorf("intersect = %v", got)
	}
	if got := intersect(nil, []string{"a"}); got != nil {
		t.Errorf("intersect(nil, …) = %v", got)
	}
}
