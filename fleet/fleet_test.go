package fleet

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"github.com/google/uuid"
	"go.uber.org/zap"
)

func fileStorage(t *testing.T) *certmagic.FileStorage {
	return &certmagic.FileStorage{Path: t.TempDir()}
}

// Three instances on one storage, one with weaker TLS settings: every view
// is the same, the drift is alerted once, a dead instance is alerted stale
// once by a survivor, and its return once.
func TestFleetViewDriftStaleRecovery(t *testing.T) {
	st := fileStorage(t)
	clk := newTestClock()
	rec := &recorder{}
	a := newInstance(t, st, clk.now, sampleFacts(), rec)
	b := newInstance(t, st, clk.now, sampleFacts(), rec)
	weak := sampleFacts()
	weak.Mode = "audit"
	weak.Sites[0].TLS = "tls1.2,tls1.3|TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,TLS_AES_128_GCM_SHA256|x25519"
	weak.Sites[0].Grade = "B"
	c := newInstance(t, st, clk.now, weak, rec)
	all := []*testInstance{a, b, c}

	rounds(clk, 3, all...) // warm-up: not ready, no drift
	if v := a.app.currentView(); len(v.Drift) != 0 || v.Summary.Alive != 3 {
		t.Fatalf("during warm-up: alive %d, drift %v; want 3 alive and no drift", v.Summary.Alive, driftKeys(v))
	}
	rounds(clk, 5, all...)
	want := []string{"drift/grade/example.com", "drift/mode/", "drift/tls_settings/example.com"}
	for _, in := range all {
		v := in.app.currentView()
		if got := driftKeys(v); !slices.Equal(got, want) {
			t.Errorf("%s: drift %v; want %v", in.app.self, got, want)
		}
		if fleetShape(v) != fleetShape(a.app.currentView()) {
			t.Errorf("views differ:\n%s\n%s", fleetShape(v), fleetShape(a.app.currentView()))
		}
		if v.Alerting.Alerter != a.app.currentView().Alerting.Alerter || v.Alerting.Alerter == "" {
			t.Errorf("alerter %q; want the same non-empty one everywhere", v.Alerting.Alerter)
		}
	}
	if got := rec.events(); !slices.Equal(got, []string{EventDrift}) {
		t.Fatalf("alerts %v; want one fleet_drift", got)
	}
	if items := rec.alerts[0].Items; len(items) != 3 || !slices.Contains(items[0].Instances, c.app.self) {
		t.Errorf("drift alert items %+v; want 3 naming %s", items, c.app.self)
	}

	// The alerter dies (its rounds stop). Stale after 3 missed intervals,
	// not before; one alert, sent by a survivor.
	alerter := a.app.currentView().Alerting.Alerter
	var dead *testInstance
	var alive []*testInstance
	for _, in := range all {
		if in.app.self == alerter {
			dead = in
		} else {
			alive = append(alive, in)
		}
	}
	rounds(clk, 2, alive...)
	if s := stateOf(alive[0].app.currentView(), dead.app.self); s != StateAlive {
		t.Fatalf("2 intervals after its last write: %s; want alive", s)
	}
	rounds(clk, 3, alive...)
	for _, in := range alive {
		if s := stateOf(in.app.currentView(), dead.app.self); s != StateStale {
			t.Fatalf("5 intervals after its last write: %s; want stale", s)
		}
	}
	if got := rec.events(); !slices.Equal(got, []string{EventDrift, EventInstanceStale}) {
		t.Fatalf("alerts %v; want fleet_drift then one fleet_instance_stale", got)
	}
	if by := rec.alerts[1].SentBy; by == dead.app.self {
		t.Errorf("the stale alert was sent by the dead instance %s", by)
	}

	// It comes back: one recovery alert.
	rounds(clk, 3, all...)
	if got := rec.events(); !slices.Equal(got, []string{EventDrift, EventInstanceStale, EventInstanceRecovered}) {
		t.Fatalf("alerts %v; want a fleet_instance_recovered after the stale one", got)
	}

	// The weak instance is fixed: the drift is resolved, once.
	c.source.set(sampleFacts())
	rounds(clk, 3, all...)
	if got := rec.events(); len(got) != 4 || got[3] != EventDriftResolved {
		t.Fatalf("alerts %v; want fleet_drift_resolved last", got)
	}
	rounds(clk, 5, all...)
	if n := len(rec.events()); n != 4 {
		t.Fatalf("%d alerts after a quiet period; want still 4: %v", n, rec.events())
	}

	// The alert record says who alerted what.
	body, err := st.Load(context.Background(), alertsKey)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"active":{}`) {
		t.Errorf("alert record after recovery: %s; want no active alert", body)
	}
}

// In the steady state an instance makes one Store, one Delete and one
// List per interval and loads nothing; the alerter adds one Load of the
// alert record. A record loads again only when its facts change.
func TestFleetStorageOperationsPerInterval(t *testing.T) {
	st := fileStorage(t)
	clk := newTestClock()
	var insts []*testInstance
	for range 5 {
		insts = append(insts, newInstance(t, st, clk.now, sampleFacts(), nil))
	}
	rounds(clk, 6, insts...)
	before := make([]map[string]uint64, len(insts))
	for i, in := range insts {
		before[i] = opCounts(in.app.obs.stats)
	}
	rounds(clk, 1, insts...)
	alerter := insts[0].app.currentView().Alerting.Alerter
	for i, in := range insts {
		after := opCounts(in.app.obs.stats)
		want := map[string]uint64{"store": 1, "delete": 1, "list": 1, "load": 0, "lock": 0}
		if in.app.self == alerter {
			want["load"] = 1
		}
		for op, n := range want {
			if got := after[op] - before[i][op]; got != n {
				t.Errorf("instance %d (alerter %v): %d %s per interval; want %d", i, in.app.self == alerter, got, op, n)
			}
		}
	}

	// One instance's facts change: every instance loads that record once.
	f := sampleFacts()
	f.Sites[0].Grade = "A"
	insts[1].source.set(f)
	for i, in := range insts {
		before[i] = opCounts(in.app.obs.stats)
	}
	rounds(clk, 2, insts...)
	for i, in := range insts {
		wantLoads := uint64(1)
		if in.app.self == alerter {
			wantLoads += 2
		}
		if got := opCounts(in.app.obs.stats)["load"] - before[i]["load"]; got != wantLoads {
			t.Errorf("instance %d: %d loads in the 2 intervals after one record changed; want %d", i, got, wantLoads)
		}
	}
	keys, err := st.List(context.Background(), instancesPrefix, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(insts) {
		t.Errorf("%d keys under %s; want one per instance (%d): %v", len(keys), instancesPrefix, len(insts), keys)
	}
}

func opCounts(s *stats) map[string]uint64 {
	out := map[string]uint64{}
	for _, op := range storageOps {
		out[op] = s.opCount(op)
	}
	return out
}

// A record cut short, one of another version, one whose content does not
// match its key and garbage under the prefix are skipped with one warning
// each; the view still builds.
func TestFleetSkipsBadRecords(t *testing.T) {
	st := fileStorage(t)
	clk := newTestClock()
	a := newInstance(t, st, clk.now, sampleFacts(), nil)
	b := newInstance(t, st, clk.now, sampleFacts(), nil)
	rounds(clk, 1, a, b)

	ctx := context.Background()
	// Cut short: a valid key whose body stops mid-way.
	key, body, err := encodeRecord(uuid.NewString(), clk.now(), InstanceFacts{Facts: sampleFacts(), Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	must(t, st.Store(ctx, key, body[:len(body)/2]))
	// Another version.
	v2 := strings.Replace(string(body), `"v":1`, `"v":2`, 1)
	id2 := uuid.NewString()
	must(t, st.Store(ctx, strings.Replace(key, key[len(instancesPrefix)+1:len(instancesPrefix)+37], id2, 1), []byte(strings.Replace(v2, `"instance":"`+key[len(instancesPrefix)+1:len(instancesPrefix)+37], `"instance":"`+id2, 1))))
	// Content that does not match its key's hash.
	id3 := uuid.NewString()
	key3, body3, _ := encodeRecord(id3, clk.now(), InstanceFacts{Facts: sampleFacts()})
	must(t, st.Store(ctx, key3[:len(key3)-len("0123456789abcdef.json")]+"0123456789abcdef.json", body3))
	// Garbage.
	must(t, st.Store(ctx, instancesPrefix+"/notes.txt", []byte("hello")))
	must(t, os.MkdirAll(filepath.Join(st.Path, filepath.FromSlash(instancesPrefix), "subdir"), 0o700))

	rounds(clk, 3, a, b)
	v := a.app.currentView()
	if v.Summary.Alive+v.Summary.Stale+v.Summary.Gone < 2 || stateOf(v, b.app.self) != StateAlive {
		t.Fatalf("view did not build around bad records: %+v", v.Summary)
	}
	for _, want := range []string{skipMalformed, skipVersion, skipMismatch, skipBadKey} {
		logs := a.logs.FilterMessage("skipping fleet record").FilterField(zap.String("reason", want)).Len()
		if logs < 1 {
			t.Errorf("no warning with reason %s", want)
		}
	}
	if n := a.logs.FilterMessage("skipping fleet record").Len(); n != 5 {
		t.Errorf("%d skip warnings after 3 rounds; want 5, one per bad key", n)
	}
	for _, iv := range v.Instances {
		if iv.ID != a.app.self && iv.ID != b.app.self && iv.RecordError == "" {
			t.Errorf("instance %s from a bad record has no record_error", iv.ID)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// An instance that cannot reach the storage says so, keeps its last view
// (nobody ages into stale on a failed read), and is called stale by the
// others only after the threshold.
func TestFleetStorageUnreachable(t *testing.T) {
	dir := t.TempDir()
	clk := newTestClock()
	shared := &certmagic.FileStorage{Path: dir}
	broken := &failingStorage{FileStorage: &certmagic.FileStorage{Path: dir}}
	a := newInstance(t, shared, clk.now, sampleFacts(), nil)
	b := newInstance(t, shared, clk.now, sampleFacts(), nil)
	c := newInstance(t, broken, clk.now, sampleFacts(), nil)
	rounds(clk, 5, a, b, c)

	broken.set(true, true)
	rounds(clk, 2, a, b, c)
	if s := stateOf(a.app.currentView(), c.app.self); s != StateAlive {
		t.Fatalf("2 intervals after its last write the others call it %s; want alive", s)
	}
	rounds(clk, 20, a, b, c)
	vc := c.app.currentView()
	if vc.Storage.OK || vc.Storage.WriteError == "" || vc.Storage.ListError == "" {
		t.Errorf("unreachable instance's storage status %+v; want both errors", vc.Storage)
	}
	for _, id := range []string{a.app.self, b.app.self} {
		if s := stateOf(vc, id); s != StateAlive {
			t.Errorf("after 20 failed lists the unreachable instance calls %s %s; want alive (as of its last list)", id, s)
		}
	}
	if s := stateOf(a.app.currentView(), c.app.self); s != StateStale {
		t.Errorf("the others call the unreachable instance %s; want stale", s)
	}
	if c.logs.FilterMessage("cannot write this instance's fleet record; the other instances will call it stale").Len() != 1 {
		t.Errorf("want exactly one write-failure error line")
	}

	// Read-only: writes fail, reads work. It sees itself stale like the
	// others do, and the others alive.
	broken.set(true, false)
	rounds(clk, 2, a, b, c)
	vc = c.app.currentView()
	if stateOf(vc, c.app.self) != StateStale || stateOf(vc, a.app.self) != StateAlive || vc.Storage.OK {
		t.Errorf("read-only instance's view: self %s, other %s, storage ok %v; want stale, alive, false",
			stateOf(vc, c.app.self), stateOf(vc, a.app.self), vc.Storage.OK)
	}
	broken.set(false, false)
	rounds(clk, 2, a, b, c)
	if s := stateOf(a.app.currentView(), c.app.self); s != StateAlive {
		t.Errorf("after the storage came back: %s; want alive", s)
	}
}

// A storage whose locks do not exclude degrades to reporting only, and
// says why; file_system locks exclude, with TryLock and with Lock alone.
func TestProbeLocks(t *testing.T) {
	ctx := context.Background()
	self := uuid.NewString()
	fs := fileStorage(t)
	for name, st := range map[string]certmagic.Storage{"file_system": fs, "lock_only": lockOnlyStorage{fs}} {
		exclusive, reason, err := probeLocks(ctx, st, self, 1500*time.Millisecond)
		if err != nil || !exclusive {
			t.Errorf("%s: exclusive %v, reason %q, err %v; want exclusive", name, exclusive, reason, err)
		}
	}
	exclusive, reason, err := probeLocks(ctx, noLockStorage{fs}, self, time.Second)
	if err != nil || exclusive || !strings.Contains(reason, "do not exclude") {
		t.Fatalf("no-op locks: exclusive %v, reason %q, err %v; want not exclusive with a reason", exclusive, reason, err)
	}
}

// With reporting only, nobody alerts, and the view says why.
func TestFleetReportingOnly(t *testing.T) {
	st := noLockStorage{fileStorage(t)}
	clk := newTestClock()
	rec := &recorder{}
	a := newInstance(t, st, clk.now, sampleFacts(), rec)
	f := sampleFacts()
	f.ConfigHash = strings.Repeat("cd", 32)
	b := newInstance(t, st, clk.now, f, rec)
	a.app.locks.set(modeReportingOnly, "test: locks do not exclude")
	b.app.locks.set(modeReportingOnly, "test: locks do not exclude")
	rounds(clk, 10, a, b)
	v := a.app.currentView()
	if got := driftKeys(v); !slices.Equal(got, []string{"drift/config/"}) {
		t.Fatalf("drift %v; want the config hash", got)
	}
	if v.Alerting.Mode != modeReportingOnly || v.Alerting.Reason == "" {
		t.Errorf("alerting %+v; want reporting_only with a reason", v.Alerting)
	}
	if n := len(rec.events()); n != 0 {
		t.Errorf("%d alerts with reporting only; want none", n)
	}
}

// An instance whose clock is ahead is named by every view, its own
// included.
func TestFleetClockDrift(t *testing.T) {
	st := fileStorage(t)
	clk := newTestClock()
	a := newInstance(t, st, clk.now, sampleFacts(), nil)
	b := newInstance(t, st, clk.now, sampleFacts(), nil)
	ahead := newInstance(t, st, clk.skewed(5*time.Minute), sampleFacts(), nil)
	rounds(clk, 6, a, b, ahead)
	for _, in := range []*testInstance{a, b, ahead} {
		v := in.app.currentView()
		if got := driftKeys(v); !slices.Equal(got, []string{"drift/clock/" + ahead.app.self}) {
			t.Errorf("view of %s: drift %v; want the clock of %s", in.app.self, got, ahead.app.self)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		app  App
		want string
		fix  string // what says the fix; "fix:" when empty
	}{
		{App{Interval: caddy.Duration(100 * time.Millisecond)}, `interval = "100ms": out of range`, ""},
		{App{StaleAfter: 2}, "stale_after = 2: a live instance's record can look two intervals old", ""},
		{App{StaleAfter: 5, GoneAfter: 5}, "gone_after = 5: must be more than stale_after (5)", ""},
		{App{ClockTolerance: caddy.Duration(time.Millisecond)}, `clock_tolerance = "1ms"`, ""},
		{App{DriftGrace: -1}, `drift_grace = "-1ns": negative`, ""},
		// The webhook's rules and their wording are internal/webhook's,
		// shared with pinreport.
		{App{Webhook: &Webhook{URL: "alerts.example.com/hook"}}, `webhook.url = "alerts.example.com/hook": has no http:// or https:// scheme`, "write it as https://alerts.example.com/hook"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			a := tc.app
			a.self, a.storage, a.source = uuid.NewString(), fileStorage(t), &staticSource{}
			a.logger = newInstance(t, a.storage, time.Now, Facts{}, nil).app.logger
			if err := a.provision(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = a.Cleanup() })
			err := a.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v; want an error containing %q", err, tc.want)
			}
			fix := cmp.Or(tc.fix, "fix:")
			if !strings.Contains(err.Error(), fix) {
				t.Errorf("error %q names no fix (%q)", err, fix)
			}
		})
	}
}

// An instance restarted with its clock stepped back finds its previous
// process's record dated later than its new one: it deletes the old one,
// not its own new records.
func TestFleetOwnOldRecordFromTheFuture(t *testing.T) {
	st := fileStorage(t)
	clk := newTestClock()
	a := newInstance(t, st, clk.now, sampleFacts(), nil)
	future, body, err := encodeRecord(a.app.self, clk.now().Add(time.Hour), InstanceFacts{Facts: sampleFacts(), Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	must(t, st.Store(context.Background(), future, body))
	rounds(clk, 3, a)
	keys, err := st.List(context.Background(), instancesPrefix, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] == future || keys[0] != a.app.obs.lastKey {
		t.Fatalf("keys %v; want only this process's last record %s", keys, a.app.obs.lastKey)
	}
	if s := stateOf(a.app.currentView(), a.app.self); s != StateAlive {
		t.Errorf("own state %s; want alive", s)
	}
}
