package pinreport

import (
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

func buildManual(in *certs.Interner) func(*certmagic.Certificate) *entry {
	return func(c *certmagic.Certificate) *entry { return newEntry(c, certs.Origin{Kind: KindManual}, 0, in) }
}

func TestStateUpdate(t *testing.T) {
	ca := newTestCA(t, "state")
	tc := newTestCache(t)
	now := time.Now().Truncate(time.Second)
	a1 := tc.add(t, ca.leaf(t, []string{"a.example"}, now.Add(-time.Hour), now.Add(time.Hour), nil))
	b := tc.add(t, ca.leaf(t, []string{"b.example"}, now.Add(-time.Hour), now.Add(time.Hour), nil))
	s := newState()
	build := buildManual(s.intern)

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

func TestStateEventBookkeeping(t *testing.T) {
	s := newState()
	if s.seenEvent("one") || !s.seenEvent("one") {
		t.Error("an event ID must be new once, then seen")
	}
	for i := range len(s.recent) {
		s.seenEvent(string(rune('a' + i)))
	}
	if s.seenEvent("one") {
		t.Error("the ring of recent IDs should have forgotten the oldest")
	}

	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.mu.Lock()
	s.nameStatusLocked("a.example").lastObtained = t0
	st := s.nameStatusLocked("www.a.example")
	st.lastFailure, st.lastError, st.failures = t0.Add(time.Hour), "boom", 2
	s.mu.Unlock()
	got := s.status([]string{"a.example", "www.a.example", "other.example"})
	if !got.lastObtained.Equal(t0) || got.lastError != "boom" || got.failures != 2 {
		t.Errorf("merged status %+v", got)
	}

	s.observe([]string{"x.example", "", "y.example"})
	if names := s.observedNames(); len(names) != 2 {
		t.Errorf("observed %v; want x and y", names)
	}
	s.forget([]string{"x.example"})
	if names := s.observedNames(); len(names) != 1 || names[0] != "y.example" {
		t.Errorf("after forget: %v", names)
	}
}

func TestStateForgetDropsStatus(t *testing.T) {
	s := newState()
	s.observe([]string{"ok.example", "failing.example"})
	s.mu.Lock()
	s.nameStatusLocked("ok.example").lastObtained = time.Now()
	s.nameStatusLocked("failing.example").failures = 1
	s.mu.Unlock()
	s.forget([]string{"ok.example", "failing.example"})
	if _, ok := s.names["ok.example"]; ok {
		t.Error("the status of an evicted name without failures was kept")
	}
	if _, ok := s.names["failing.example"]; !ok {
		t.Error("the status of a failing name was dropped")
	}
}
