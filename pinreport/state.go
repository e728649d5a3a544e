package pinreport

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/internal/finding"
)

// states shares one state among the pinreport apps of successive configs:
// events are not repeated after a reload, so what they told (renewal
// status, counters), which alerts were sent and which key each site had
// must outlive a config.
var states = caddy.NewUsagePool()

const stateKey = "pinreport"

// state is the inventory and everything learned from events. The
// inventory is rebuilt from the certificate cache by scan; readers (admin
// API, metrics) see an immutable sorted view.
type state struct {
	// scanMu serializes scans, also those of an old and a new config
	// running side by side during a reload; it guards byHash, slots,
	// intern, gen and the scan-only fields of entries.
	scanMu sync.Mutex
	byHash map[string]*entry
	slots  map[string]*entry // the newest entry of each slot
	intern *certs.Interner
	gen    uint64

	mu        sync.RWMutex
	view      *view
	scannedAt time.Time
	names     map[string]*nameStatus // by certmagic identifier, from events
	observed  map[string]struct{}    // names seen in cache events
	recent    [32]string             // IDs of the latest events, to drop repeats
	recentAt  int

	renewals, renewalFailures, obtainFailures atomic.Uint64
	pinChanges, pinMismatches, revocations    atomic.Uint64
	alerts                                    [finding.Critical + 1]atomic.Uint64
	webhookSent, webhookFailed, webhookDrop   atomic.Uint64
}

// nameStatus is the renewal status of one identifier, as told by
// cert_obtained and cert_failed events.
type nameStatus struct {
	lastObtained time.Time
	lastFailure  time.Time
	lastError    string
	failures     int // consecutive, since the last success
	issuerKey    string
}

func newState() *state {
	return &state{
		byHash:   make(map[string]*entry),
		slots:    make(map[string]*entry),
		intern:   certs.NewInterner(),
		names:    make(map[string]*nameStatus),
		observed: make(map[string]struct{}),
	}
}

// Destruct implements caddy.Destructor; a state holds no resources.
func (*state) Destruct() error { return nil }

// scanChanges is what a scan found: replacements of a slot's certificate
// by a newer one, and entries that left the cache.
type scanChanges struct {
	added    []*entry
	replaced []replacement
	removed  []*entry
}

type replacement struct{ old, new *entry }

// update makes the certificates found the inventory. build computes the
// entry of a certificate seen for the first time (nil skips it). The
// caller holds scanMu.
func (s *state) update(found []*certmagic.Certificate, build func(*certmagic.Certificate) *entry) scanChanges {
	var ch scanChanges
	s.gen++
	gen := s.gen
	current := make([]*entry, 0, len(found))
	if len(s.byHash) == 0 && len(found) > 0 {
		s.byHash = make(map[string]*entry, len(found)) // spare the first scan the map's growth
	}
	for _, cert := range found {
		e, ok := s.byHash[cert.Hash()]
		if !ok {
			if e = build(cert); e == nil {
				continue
			}
			s.byHash[e.Hash] = e
			ch.added = append(ch.added, e)
		}
		if e.gen != gen { // a certificate found under several names
			e.gen = gen
			current = append(current, e)
		}
	}
	if len(current) < len(s.byHash) {
		for hash, e := range s.byHash {
			if e.gen != gen {
				delete(s.byHash, hash)
				ch.removed = append(ch.removed, e)
			}
		}
	}
	for _, e := range current {
		cur := s.slots[e.slot]
		switch {
		case cur == nil:
			s.slots[e.slot] = e
		case cur == e:
		case e.Leaf.NotBefore.After(cur.Leaf.NotBefore):
			ch.replaced = append(ch.replaced, replacement{old: cur, new: e})
			s.slots[e.slot] = e
		case cur.gen != gen:
			s.slots[e.slot] = e // the newer one left; not a renewal
		}
	}
	if len(ch.removed) > 0 {
		for slot, e := range s.slots {
			if e.gen != gen {
				delete(s.slots, slot)
			}
		}
	}
	return ch
}

// view is the inventory as readers see it: replaced by a scan that
// changes it, never modified. Sorting waits for the first reader that
// needs order (the admin API), so scans of a large inventory do not pay
// for it.
type view struct {
	entries  []*entry
	sortOnce sync.Once
	sorted   []*entry
}

// inOrder returns the entries sorted by first name, then hash.
func (v *view) inOrder() []*entry {
	v.sortOnce.Do(func() {
		v.sorted = slices.SortedFunc(slices.Values(v.entries), compareEntries)
	})
	return v.sorted
}

// publish replaces the readers' view if the set of entries changed.
func (s *state) publish(ch scanChanges, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.view == nil || len(ch.added) > 0 || len(ch.removed) > 0 {
		entries := make([]*entry, 0, len(s.byHash))
		for _, e := range s.byHash {
			entries = append(entries, e)
		}
		s.view = &view{entries: entries}
	}
	s.scannedAt = now
}

func compareEntries(a, b *entry) int {
	if c := strings.Compare(a.FirstName(), b.FirstName()); c != 0 {
		return c
	}
	return strings.Compare(a.Hash, b.Hash)
}

// snapshot returns the current entries in no particular order, and when
// they were scanned.
func (s *state) snapshot() ([]*entry, time.Time) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.view == nil {
		return nil, s.scannedAt
	}
	return s.view.entries, s.scannedAt
}

// sortedSnapshot is snapshot in order of first name, then hash.
func (s *state) sortedSnapshot() ([]*entry, time.Time) {
	s.mu.RLock()
	v, at := s.view, s.scannedAt
	s.mu.RUnlock()
	if v == nil {
		return nil, at
	}
	return v.inOrder(), at
}

// seenEvent records an event ID and reports whether it was seen before:
// a handler wired in the events config as well as by the app gets every
// event twice.
func (s *state) seenEvent(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.recent[:], id) {
		return true
	}
	s.recent[s.recentAt] = id
	s.recentAt = (s.recentAt + 1) % len(s.recent)
	return false
}

// status returns a copy of the renewal status of the identifiers among
// names, merged: the latest success and the latest failure.
func (s *state) status(names []string) nameStatus {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out nameStatus
	for _, n := range names {
		st, ok := s.names[n]
		if !ok {
			continue
		}
		if st.lastObtained.After(out.lastObtained) {
			out.lastObtained, out.issuerKey = st.lastObtained, st.issuerKey
		}
		if st.lastFailure.After(out.lastFailure) {
			out.lastFailure, out.lastError, out.failures = st.lastFailure, st.lastError, st.failures
		}
	}
	return out
}

// nameStatusLocked returns the status of an identifier, creating it; the
// caller holds mu.
func (s *state) nameStatusLocked(id string) *nameStatus {
	st, ok := s.names[id]
	if !ok {
		st = new(nameStatus)
		s.names[id] = st
	}
	return st
}

// observe adds names seen in a cache event to the names scans look up,
// so that on-demand and manually loaded certificates are found.
func (s *state) observe(names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		if n != "" {
			s.observed[n] = struct{}{}
		}
	}
}

// observedNames returns the names seen in cache events.
func (s *state) observedNames() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.observed))
	for n := range s.observed {
		out = append(out, n)
	}
	return out
}

// forget drops observed names that no longer have a certificate in the
// cache (evicted on-demand certificates, unloaded files), and their
// renewal status unless it records a failure, so that the state of an
// on-demand server does not grow without bound.
func (s *state) forget(names []string) {
	if len(names) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		delete(s.observed, n)
		if st, ok := s.names[n]; ok && st.failures == 0 {
			delete(s.names, n)
		}
	}
}

// Interface guards
var _ caddy.Destructor = (*state)(nil)
