package pinreport

import (
	"iter"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

func buildManual(c *certmagic.Certificate, in *certs.Interner) *entry {
	return newEntry(c, certs.Origin{Kind: KindManual}, 0, in)
}

func noJudge(scanChanges, iter.Seq[*entry]) []Alert { return nil }

func TestInventoryUpdate(t *testing.T) {
	ca := newTestCA(t, "state")
	tc := newTestCache(t)
	now := time.Now().Truncate(time.Second)
	a1 := tc.add(t, ca.leaf(t, []string{"a.example"}, now.Add(-time.Hour), now.Add(time.Hour), nil))
	b := tc.add(t, ca.leaf(t, []string{"b.example"}, now.Add(-time.Hour), now.Add(time.Hour), nil))
	s := newInventory()
	build := func(c *certmagic.Certificate) *entry { return buildManual(c, s.intern) }

	ch := s.update(found([]certmagic.Certificate{a1, b, a1, {}}), build)
	if len(ch.added) != 2 || len(ch.removed) != 0 || len(ch.replaced) != 0 {
		t.Fatalf("first scan: %d added, %d removed, %d replaced; want 2, 0, 0", len(ch.added), len(ch.removed), len(ch.replaced))
	}
	s.publish(ch, now)
	view, scanned := s.sortedSnapshot()
	if len(view) != 2 || view[0].FirstName() != "a.example" || !scanned.Equal(now) {
		t.Fatalf("view %v at %s: want a.example then b.example at %s", view, scanned, now)
	}

	// The same certificates again: nothing changes, entries are reused.
	first := s.byHash[a1.Hash()]
	ch = s.update(found([]certmagic.Certificate{b, a1}), build)
	if len(ch.added)+len(ch.removed)+len(ch.replaced) != 0 || s.byHash[a1.Hash()] != first {
		t.Fatalf("unchanged scan reported changes %+v or rebuilt an entry", ch)
	}

	// a is renewed: the newer certificate takes its slot.
	a2 := tc.add(t, ca.leaf(t, []string{"a.example"}, now, now.Add(2*time.Hour), nil))
	ch = s.update(found([]certmagic.Certificate{a2, b}), build)
	if len(ch.replaced) != 1 || ch.replaced[0].old.Hash != a1.Hash() || ch.replaced[0].new.Hash != a2.Hash() {
		t.Fatalf("renewal: replaced %+v; want a1 → a2", ch.replaced)
	}
	if len(ch.removed) != 1 || ch.removed[0].Hash != a1.Hash() {
		t.Errorf("renewal: removed %v; want a1", ch.removed)
	}

	// Old and new both cached for a while: the newest keeps the slot and
	// nothing flips back and forth.
	for range 2 {
		ch = s.update(found([]certmagic.Certificate{a1, a2, b}), build)
		if len(ch.replaced) != 0 {
			t.Fatalf("old and new cached together: replaced %+v; want none", ch.replaced)
		}
	}
	if s.slots["manual|a.example"].Hash != a2.Hash() {
		t.Error("the older certificate took the slot back")
	}

	// The newer one leaves and the older stays: the slot follows, but it
	// is not a renewal.
	ch = s.update(found([]certmagic.Certificate{a1, b}), build)
	if len(ch.replaced) != 0 || s.slots["manual|a.example"].Hash != a1.Hash() {
		t.Errorf("newer certificate left: replaced %+v, slot %s", ch.replaced, s.slots["manual|a.example"].Hash)
	}

	// Everything leaves: entries and slots go.
	ch = s.update(found(nil), build)
	if len(ch.removed) != 2 || len(s.byHash) != 0 || len(s.slots) != 0 {
		t.Errorf("empty scan: removed %d, %d entries and %d slots left", len(ch.removed), len(s.byHash), len(s.slots))
	}
	s.publish(ch, now)
	if view, _ := s.snapshot(); len(view) != 0 {
		t.Errorf("view still holds %d entries", len(view))
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
	l.obtained("a.example", "acme-ca", t0)
	l.failed("www.a.example", "boom", t0.Add(time.Hour))
	if n := l.failed("www.a.example", "boom", t0.Add(time.Hour)); n != 2 {
		t.Errorf("streak %d after two failures, want 2", n)
	}
	got := l.status([]string{"a.example", "www.a.example", "other.example"})
	if !got.lastObtained.Equal(t0) || got.issuerKey != "acme-ca" || got.lastError != "boom" || got.failures != 2 {
		t.Errorf("merged status %+v", got)
	}
	l.obtained("www.a.example", "acme-ca", t0.Add(2*time.Hour))
	if n := l.failed("www.a.example", "again", t0.Add(3*time.Hour)); n != 1 {
		t.Errorf("streak %d after a success and a failure, want 1", n)
	}
}

func TestNameSet(t *testing.T) {
	s := newNameSet()
	s.add([]string{"x.example", "", "y.example"})
	if names := s.list(); len(names) != 2 {
		t.Errorf("names %v; want x and y", names)
	}
	s.remove([]string{"x.example"})
	if names := s.list(); len(names) != 1 || names[0] != "y.example" {
		t.Errorf("after remove: %v", names)
	}
}

func TestStateForgetKeepsFailures(t *testing.T) {
	s := newState()
	s.observed.add([]string{"ok.example", "failing.example"})
	s.renewals.obtained("ok.example", "", time.Now())
	s.renewals.failed("failing.example", "boom", time.Now())
	s.forget([]string{"ok.example", "failing.example"})
	if len(s.observed.list()) != 0 {
		t.Error("forgotten names are still observed")
	}
	if st := s.renewals.status([]string{"ok.example"}); !st.lastObtained.IsZero() {
		t.Error("the status of an evicted name without failures was kept")
	}
	if st := s.renewals.status([]string{"failing.example"}); st.failures != 1 {
		t.Error("the status of a failing name was dropped")
	}
}
