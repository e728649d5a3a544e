package pinreport

import (
	"crypto/x509"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

func buildManual(c *certmagic.Certificate, in *certs.Interner) *entry {
	return newEntry(c, certs.Origin{Kind: KindManual}, 0, in)
}

// countingLookup counts the lookups of a cache.
func countingLookup(tc *testCache, n *atomic.Int64) certs.Lookup {
	return func(name string) []certmagic.Certificate {
		n.Add(1)
		return tc.cache.AllMatchingCertificates(name)
	}
}

func TestInventoryReconcile(t *testing.T) {
	ca := newTestCA(t, "state")
	tc := newTestCache(t)
	now := time.Now().Truncate(time.Second)
	a1 := tc.add(t, ca.leaf(t, []string{"a.example"}, now.Add(-time.Hour), now.Add(time.Hour), nil))
	b := tc.add(t, ca.leaf(t, []string{"b.example"}, now.Add(-time.Hour), now.Add(time.Hour), nil))
	s := newInventory()
	p := &policy{seq: 1}
	recon := func(cached ...certmagic.Certificate) changes {
		t.Helper()
		ch, ok := s.reconcile(p, found(cached), buildManual, now)
		if !ok {
			t.Fatal("the owner's reconcile was refused")
		}
		return ch
	}

	ch := recon(a1, b, a1, certmagic.Certificate{})
	if len(ch.added) != 2 || len(ch.removed) != 0 || len(ch.replaced) != 0 {
		t.Fatalf("first reconcile: %d added, %d removed, %d replaced; want 2, 0, 0", len(ch.added), len(ch.removed), len(ch.replaced))
	}
	all := s.all()
	if reconciled, _ := s.times(); len(all) != 2 || all[0].FirstName() != "a.example" || !reconciled.Equal(now) {
		t.Fatalf("inventory %v reconciled at %s: want a.example then b.example at %s", all, reconciled, now)
	}

	// The same certificates again: nothing changes, entries are reused.
	first := s.byHash[a1.Hash()]
	if ch = recon(b, a1); !ch.empty() || s.byHash[a1.Hash()] != first {
		t.Fatalf("unchanged reconcile reported changes %+v or rebuilt an entry", ch)
	}

	// a is renewed: the newer certificate takes its slot.
	a2 := tc.add(t, ca.leaf(t, []string{"a.example"}, now, now.Add(2*time.Hour), nil))
	ch = recon(a2, b)
	if len(ch.replaced) != 1 || ch.replaced[0].old.Hash != a1.Hash() || ch.replaced[0].new.Hash != a2.Hash() {
		t.Fatalf("renewal: replaced %+v; want a1 → a2", ch.replaced)
	}
	if len(ch.removed) != 1 || ch.removed[0].Hash != a1.Hash() {
		t.Errorf("renewal: removed %v; want a1", ch.removed)
	}

	// Old and new both cached for a while: the newest keeps the slot and
	// nothing flips back and forth.
	for range 2 {
		if ch = recon(a1, a2, b); len(ch.replaced) != 0 {
			t.Fatalf("old and new cached together: replaced %+v; want none", ch.replaced)
		}
	}
	slot := slotOf(KindManual, []string{"a.example"})
	if s.slots[slot].Hash != a2.Hash() {
		t.Error("the older certificate took the slot back")
	}

	// The newer one leaves and the older stays: the slot follows, but it
	// is not a renewal.
	if ch = recon(a1, b); len(ch.replaced) != 0 || s.slots[slot].Hash != a1.Hash() {
		t.Errorf("newer certificate left: replaced %+v, slot %v", ch.replaced, s.slots[slot])
	}

	// An older config's reconcile changes nothing.
	if _, ok := s.reconcile(&policy{seq: 0}, nil, buildManual, now); ok || s.size() != 2 {
		t.Errorf("an older policy's reconcile: ok %v, %d entries left", ok, s.size())
	}

	// Everything leaves: entries, slots, indexes and counts go.
	ch = recon()
	if len(ch.removed) != 2 || s.size() != 0 || len(s.slots) != 0 || s.byExpiry.Len() != 0 || s.levelCounts() != [numLevels]int{} {
		t.Errorf("empty reconcile: removed %d, %d entries, %d slots, %d by expiry, counts %v left",
			len(ch.removed), s.size(), len(s.slots), s.byExpiry.Len(), s.levelCounts())
	}
}

// TestInventoryRefresh: an event's names are looked up, and only they.
func TestInventoryRefresh(t *testing.T) {
	ca := newTestCA(t, "refresh")
	tc := newTestCache(t)
	now := time.Now().Truncate(time.Second)
	for i := range 50 {
		tc.add(t, ca.leaf(t, []string{fmt.Sprintf("other%d.example", i)}, now, now.Add(time.Hour), nil))
	}
	var lookups atomic.Int64
	lookup := countingLookup(tc, &lookups)
	s := newInventory()
	p := &policy{seq: 1}
	s.reconcile(p, nil, buildManual, now)
	refresh := func(name string) changes {
		t.Helper()
		lookups.Store(0)
		ch := s.refresh(p, []string{name}, lookup, buildManual, now)
		if n := lookups.Load(); n > 2 {
			t.Errorf("refresh of %s made %d lookups; want at most 2 (the name, and a displaced certificate's)", name, n)
		}
		return ch
	}

	a1 := tc.add(t, ca.leaf(t, []string{"a.example", "www.a.example"}, now, now.Add(time.Hour), nil))
	if ch := refresh("www.a.example"); len(ch.added) != 1 || s.size() != 1 {
		t.Fatalf("announced certificate: %d added, %d entries", len(ch.added), s.size())
	}
	if ch := refresh("a.example"); !ch.empty() {
		t.Errorf("a known certificate announced again: %+v", ch)
	}

	// A renewal replaces its predecessor in the cache.
	tc.remove(a1)
	a2 := tc.add(t, ca.leaf(t, []string{"www.a.example", "a.example"}, now.Add(time.Minute), now.Add(2*time.Hour), nil))
	ch := refresh("www.a.example")
	if len(ch.replaced) != 1 || ch.replaced[0].new.Hash != a2.Hash() || len(ch.removed) != 1 || ch.removed[0].Hash != a1.Hash() {
		t.Fatalf("renewal: replaced %v, removed %v; want a1 → a2 and a1 gone", ch.replaced, ch.removed)
	}

	// The certificate leaves the cache: looking up the name it is listed
	// under drops it.
	tc.remove(a2)
	if ch := refresh("www.a.example"); len(ch.removed) != 1 || s.size() != 0 {
		t.Errorf("evicted: removed %v, %d entries left", ch.removed, s.size())
	}

	// A policy that does not own the inventory changes nothing.
	tc.add(t, ca.leaf(t, []string{"b.example"}, now, now.Add(time.Hour), nil))
	if ch := s.refresh(&policy{seq: 2}, []string{"b.example"}, lookup, buildManual, now); !ch.empty() {
		t.Errorf("refresh by a policy that does not own the inventory: %+v", ch)
	}
}

// TestInventorySchedule: levels change when their time comes, with one
// lookup of the certificate's name, and no work before.
func TestInventorySchedule(t *testing.T) {
	ca := newTestCA(t, "schedule")
	tc := newTestCache(t)
	nb := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cert := tc.add(t, ca.leaf(t, []string{"a.example"}, nb, nb.Add(90*24*time.Hour), nil))
	var lookups atomic.Int64
	lookup := countingLookup(tc, &lookups)
	s := newInventory()
	p := &policy{seq: 1}
	s.reconcile(p, found([]certmagic.Certificate{cert}), buildManual, nb)
	e := s.byHash[cert.Hash()]
	// 90 days, renewal window a third: renew 30 days before expiry; the
	// grace is a twentieth of the lifetime, at most an hour.
	overdue := nb.Add(60*24*time.Hour + time.Hour + 1)
	if due := s.nextDue(); !due.Equal(overdue) {
		t.Fatalf("next change %s; want %s", due, overdue)
	}
	if ch := s.advance(p, overdue.Add(-1), lookup, buildManual); !ch.empty() || lookups.Load() != 0 {
		t.Fatalf("before the change: %+v, %d lookups; want nothing", ch, lookups.Load())
	}
	ch := s.advance(p, overdue, lookup, buildManual)
	if len(ch.levels) != 1 || ch.levels[0].lvl != levelWarning || lookups.Load() != 1 {
		t.Fatalf("at the change: levels %+v after %d lookups; want warning after 1", ch.levels, lookups.Load())
	}
	if c := s.levelCounts(); c[levelWarning] != 1 || c[levelOK] != 0 || s.troubled.Len() != 1 || e.level != levelWarning {
		t.Errorf("counts %v, %d troubled, level %s", c, s.troubled.Len(), e.level)
	}
	crit := nb.Add(90*24*time.Hour - 9*24*time.Hour + 1)
	if due := s.nextDue(); !due.Equal(crit) {
		t.Errorf("next change %s; want critical at %s", due, crit)
	}

	// The certificate leaves the cache without an event: before its
	// level rises, the lookup finds it gone, and nothing is alerted.
	tc.remove(cert)
	ch = s.advance(p, crit, lookup, buildManual)
	if len(ch.levels) != 0 || len(ch.removed) != 1 || s.size() != 0 || s.troubled.Len() != 0 || len(s.sched) != 0 {
		t.Errorf("gone before its critical level: %+v; %d entries, %d troubled, %d scheduled", ch, s.size(), s.troubled.Len(), len(s.sched))
	}
}

func TestNextChange(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	mk := func(lifetime time.Duration) *entry {
		leaf := &x509.Certificate{NotBefore: nb, NotAfter: nb.Add(lifetime)}
		return &entry{Facts: certs.Facts{Leaf: leaf}, renewAt: renewalPoint(nb, nb.Add(lifetime), 0)}
	}
	for _, tc := range []struct {
		name     string
		th       thresholds
		lifetime time.Duration
		want     []time.Duration // offsets from notBefore of each rise, in order
	}{
		{"90 days", thresholds{}, 90 * day, []time.Duration{60*day + time.Hour + 1, 81*day + 1, 90 * day}},
		{"6 days", thresholds{}, 6 * day, []time.Duration{4*day + time.Hour + 1, 5*day + 1, 6 * day}},
		{"fixed", thresholds{warningBefore: 14 * day, criticalBefore: 3 * day}, 90 * day, []time.Duration{76*day + 1, 87*day + 1, 90 * day}},
		// A grace longer than the wait for critical: no warning first.
		{"grace past critical", thresholds{grace: 25 * day}, 90 * day, []time.Duration{81*day + 1, 90 * day}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mk(tc.lifetime)
			now := nb
			var got []time.Duration
			for {
				next := tc.th.nextChange(e, now)
				if next.IsZero() {
					break
				}
				before, _ := tc.th.level(e, next.Add(-1))
				after, _ := tc.th.level(e, next)
				if after <= before {
					t.Fatalf("at %s the level goes from %s to %s; want a rise", next.Sub(nb), before, after)
				}
				got = append(got, next.Sub(nb))
				now = next
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("rises at %v; want %v", got, tc.want)
			}
		})
	}
}

func TestMergeSorted(t *testing.T) {
	got := mergeSorted([]string{"a", "c", "e"}, []string{"b", "c", "d", "f"})
	if strings.Join(got, "") != "abcdef" {
		t.Errorf("merge = %v", got)
	}
	if got := mergeSorted(nil, []string{"a", "a"}); len(got) != 1 {
		t.Errorf("merge with repeats = %v", got)
	}
}

func TestRecentEvents(t *testing.T) {
	var r recentEvents
	if r.seen("one") || !r.seen("one") {
		t.Error("an event ID must be new once, then seen")
	}
	for i := range len(r.ids) {
		r.seen(string(rune('a' + i)))
	}
	if r.seen("one") {
		t.Error("the ring of recent IDs should have forgotten the oldest")
	}
}

func TestRenewalLog(t *testing.T) {
	l := newRenewalLog()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l.obtained("a.example", t0)
	l.failed("www.a.example", "boom", t0.Add(time.Hour))
	if n := l.failed("www.a.example", "boom", t0.Add(time.Hour)); n != 2 {
		t.Errorf("streak %d after two failures, want 2", n)
	}
	got := l.status([]string{"a.example", "www.a.example", "other.example"})
	if !got.lastObtained.Equal(t0) || got.lastError != "boom" || got.failures != 2 {
		t.Errorf("merged status %+v", got)
	}
	l.obtained("www.a.example", t0.Add(2*time.Hour))
	if n := l.failed("www.a.example", "again", t0.Add(3*time.Hour)); n != 1 {
		t.Errorf("streak %d after a success and a failure, want 1", n)
	}
	// Names whose certificate left: their status goes unless it records a
	// failure.
	l.forget([]string{"a.example", "www.a.example"})
	if st := l.status([]string{"a.example"}); !st.lastObtained.IsZero() {
		t.Error("the status of an evicted name without failures was kept")
	}
	if st := l.status([]string{"www.a.example"}); st.failures != 1 {
		t.Error("the status of a failing name was dropped")
	}
}
