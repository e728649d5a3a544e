package fleet

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"github.com/google/uuid"
	"go.uber.org/zap"
	zapobs "go.uber.org/zap/zaptest/observer"
)

// testClock is a clock the tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// skewed returns a clock that reads this one plus d.
func (c *testClock) skewed(d time.Duration) func() time.Time {
	return func() time.Time { return c.now().Add(d) }
}

// staticSource returns the facts it was given.
type staticSource struct {
	mu sync.Mutex
	f  Facts
}

func (s *staticSource) Facts(context.Context) (Facts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f, nil
}

func (s *staticSource) set(f Facts) {
	s.mu.Lock()
	s.f = f
	s.mu.Unlock()
}

// recorder is a Notifier that keeps what it gets.
type recorder struct {
	mu     sync.Mutex
	alerts []Alert
}

func (r *recorder) Notify(_ context.Context, al Alert) error {
	r.mu.Lock()
	r.alerts = append(r.alerts, al)
	r.mu.Unlock()
	return nil
}

func (r *recorder) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, al := range r.alerts {
		out = append(out, al.Event)
	}
	return out
}

// member of a test fleet.
type testInstance struct {
	app    *App
	source *staticSource
	logs   *zapobs.ObservedLogs
}

// facts of a typical instance.
func sampleFacts() Facts {
	return Facts{
		Hostname:     "host",
		CaddyVersion: "v2.11.9",
		ConfigHash:   strings.Repeat("ab", 32),
		Profile:      "intermediate",
		Mode:         "enforce",
		Sites: []Site{
			{Host: "example.com", TLS: "tls1.2,tls1.3|TLS_AES_128_GCM_SHA256|x25519", Grade: "A+", HSTS: "max-age=63072000; includeSubDomains"},
		},
		Names: []Name{
			{Name: "example.com", SHA256: strings.Repeat("11", 32), SPKI: "pin1", NotAfter: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)},
		},
	}
}

// newInstance provisions a fleet app on st with a clock and facts, as
// Provision would with a Caddy context. rec receives its alerts.
func newInstance(t *testing.T, st certmagic.Storage, now func() time.Time, facts Facts, rec *recorder) *testInstance {
	t.Helper()
	core, logs := zapobs.New(zap.DebugLevel)
	src := &staticSource{f: facts}
	a := &App{
		Interval:       caddy.Duration(time.Second),
		DriftGrace:     caddy.Duration(2 * time.Second),
		ClockTolerance: caddy.Duration(30 * time.Second),
		self:           uuid.NewString(),
		storage:        st,
		source:         src,
		logger:         zap.New(core),
		now:            now,
	}
	if rec != nil {
		a.notifiers = []Notifier{rec}
	}
	if err := a.provision(); err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	a.locks.set(modeOncePerFleet, "")
	t.Cleanup(func() { _ = a.Cleanup() })
	return &testInstance{app: a, source: src, logs: logs}
}

// rounds runs n rounds of every running instance, moving the clock one
// interval before each.
func rounds(clk *testClock, n int, insts ...*testInstance) {
	for range n {
		clk.add(time.Second)
		for _, in := range insts {
			in.app.round(context.Background())
			in.app.alertWG.Wait() // alerting runs beside the loop
		}
	}
}

// fleetShape is what must be the same in every instance's view.
func fleetShape(v View) string {
	var b strings.Builder
	for _, iv := range v.Instances {
		b.WriteString(iv.ID + "=" + iv.State + ";")
	}
	for _, d := range v.Drift {
		b.WriteString(d.key() + ":")
		for _, g := range d.Groups {
			b.WriteString("[" + strings.Join(g.Instances, ",") + "]")
		}
		b.WriteString(";")
	}
	return b.String()
}

func stateOf(v View, id string) string {
	for _, iv := range v.Instances {
		if iv.ID == id {
			return iv.State
		}
	}
	return "absent"
}

func driftKeys(v View) []string {
	var out []string
	for _, d := range v.Drift {
		out = append(out, d.key())
	}
	slices.Sort(out)
	return out
}

// failingStorage is a FileStorage whose writes or reads can be made to
// fail, as an unreachable or read-only storage does.
type failingStorage struct {
	*certmagic.FileStorage
	mu                    sync.Mutex
	failWrites, failReads bool
}

var errUnreachable = errors.New("storage unreachable (test)")

func (s *failingStorage) set(writes, reads bool) {
	s.mu.Lock()
	s.failWrites, s.failReads = writes, reads
	s.mu.Unlock()
}

func (s *failingStorage) fails() (w, r bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failWrites, s.failReads
}

func (s *failingStorage) Store(ctx context.Context, key string, value []byte) error {
	if w, _ := s.fails(); w {
		return errUnreachable
	}
	return s.FileStorage.Store(ctx, key, value)
}

func (s *failingStorage) Delete(ctx context.Context, key string) error {
	if w, _ := s.fails(); w {
		return errUnreachable
	}
	return s.FileStorage.Delete(ctx, key)
}

func (s *failingStorage) List(ctx context.Context, prefix string, recursive bool) ([]string, error) {
	if _, r := s.fails(); r {
		return nil, errUnreachable
	}
	return s.FileStorage.List(ctx, prefix, recursive)
}

func (s *failingStorage) Load(ctx context.Context, key string) ([]byte, error) {
	if _, r := s.fails(); r {
		return nil, errUnreachable
	}
	return s.FileStorage.Load(ctx, key)
}

// noLockStorage is a FileStorage whose locks grant everyone everything,
// like a storage module whose Lock is a no-op.
type noLockStorage struct{ *certmagic.FileStorage }

func (noLockStorage) Lock(context.Context, string) error            { return nil }
func (noLockStorage) TryLock(context.Context, string) (bool, error) { return true, nil }
func (noLockStorage) Unlock(context.Context, string) error          { return nil }

// lockOnlyStorage hides the FileStorage's TryLock: only Lock and Unlock.
type lockOnlyStorage struct{ certmagic.Storage }
