package fleet

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// An instance gone for forget_after is deleted from the storage by the
// alerter, with the older record a crash left behind, and leaves every
// view; its open stale alert ends with one recovery alert. It is not
// forgotten while merely gone, and an instance that comes back after
// being forgotten is simply there again.
func TestFleetForgetsGoneInstances(t *testing.T) {
	st := fileStorage(t)
	clk := newTestClock()
	rec := &recorder{}
	var all []*testInstance
	for range 3 {
		in := newInstance(t, st, clk.now, sampleFacts(), rec)
		in.app.GoneAfter, in.app.ForgetAfter = 5, caddy.Duration(12*time.Second)
		must(t, in.app.Validate())
		all = append(all, in)
	}
	rounds(clk, 5, all...) // warm-up: every instance ready
	alerter := all[0].app.currentView().Alerting.Alerter
	var dead *testInstance
	var survivors []*testInstance
	for _, in := range all {
		if dead == nil && in.app.self != alerter {
			dead = in
		} else {
			survivors = append(survivors, in)
		}
	}
	// The dead instance crashed between storing a record and deleting the
	// one before: an older key of its own is left too.
	oldKey, body, err := encodeRecord(dead.app.self, clk.now().Add(-time.Minute), InstanceFacts{Facts: sampleFacts()})
	must(t, err)
	must(t, st.Store(context.Background(), oldKey, body))
	keysOf := func(id string) []string {
		keys, err := st.List(context.Background(), instancesPrefix, false)
		must(t, err)
		return slices.DeleteFunc(keys, func(k string) bool { return !strings.Contains(k, id) })
	}

	rounds(clk, 8, survivors...) // gone, not yet forget_after old
	for _, in := range survivors {
		if s := stateOf(in.app.currentView(), dead.app.self); s != StateGone {
			t.Fatalf("8 intervals after its last write: %q; want gone", s)
		}
	}
	if keys := keysOf(dead.app.self); len(keys) != 2 {
		t.Fatalf("records of the gone instance before forget_after: %v; want its newest and the older one", keys)
	}

	rounds(clk, 6, survivors...) // 14 intervals: past forget_after (12s)
	if keys := keysOf(dead.app.self); len(keys) != 0 {
		t.Fatalf("records of the instance after forget_after: %v; want none", keys)
	}
	for _, in := range survivors {
		if s := stateOf(in.app.currentView(), dead.app.self); s != "absent" {
			t.Errorf("%s still shows the forgotten instance as %q", in.app.self, s)
		}
		if v := in.app.currentView(); v.Summary.Alive != 2 || len(v.Instances) != 2 {
			t.Errorf("%s: %d instances, %d alive; want the 2 survivors", in.app.self, len(v.Instances), v.Summary.Alive)
		}
	}
	forgot := 0
	for _, in := range all {
		forgot += in.logs.FilterMessage("forgot fleet instance").Len()
	}
	if forgot != 1 {
		t.Errorf("%d \"forgot fleet instance\" log lines; want 1, from the alerter", forgot)
	}
	if got := rec.events(); !slices.Equal(got, []string{EventInstanceStale, EventInstanceRecovered}) {
		t.Fatalf("alerts %v; want one stale, then one recovery when it is forgotten", got)
	}
	if d := rec.alerts[1].Items[0].Detail; !strings.Contains(d, "record was removed from the storage") {
		t.Errorf("recovery detail %q; want it to say the record was removed", d)
	}

	// It comes back with the same ID: there again, alive, no new alert.
	rounds(clk, 3, all...)
	for _, in := range all {
		if s := stateOf(in.app.currentView(), dead.app.self); s != StateAlive {
			t.Errorf("%s: the returned instance is %q; want alive", in.app.self, s)
		}
	}
	if n := len(rec.events()); n != 2 {
		t.Errorf("alerts %v after its return; want still 2", rec.events())
	}
}

// forget_after must be longer than gone_after intervals; the default
// grows with them.
func TestForgetAfterBounds(t *testing.T) {
	a := App{Interval: caddy.Duration(time.Hour), GoneAfter: 200}
	if got, want := defaultForgetAfterFor(&a), 400*time.Hour; got != want {
		t.Errorf("default forget_after with gone_after 200 × 1h: %s; want %s", got, want)
	}
	a = App{Interval: caddy.Duration(time.Minute), StaleAfter: 3, GoneAfter: 60, ClockTolerance: caddy.Duration(time.Minute), ForgetAfter: caddy.Duration(time.Hour)}
	err := a.Validate()
	if err == nil || err.Error() != `forget_after = "1h0m0s": is not longer than gone_after intervals (60 × 1m0s): an instance is forgotten only after it is gone; fix: use more than 1h0m0s, e.g. 168h0m0s` {
		t.Errorf("Validate() = %v", err)
	}
}
