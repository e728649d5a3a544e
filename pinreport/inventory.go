package pinreport

import (
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

// inventory is the set of cached certificates, each with its entry. Scans
// rebuild it from the certificate cache; readers (admin API, metrics) see
// an immutable view.
type inventory struct {
	// mu serializes scans, also those of an old and a new config running
	// side by side during a reload; it guards byHash, slots, intern, gen
	// and the scan-only fields of entries.
	mu     sync.Mutex
	byHash map[string]*entry
	slots  map[string]*entry // the newest entry of each slot
	intern *certs.Interner
	gen    uint64

	viewMu    sync.RWMutex
	view      *view
	scannedAt time.Time
}

func newInventory() *inventory {
	return &inventory{
		byHash: make(map[string]*entry),
		slots:  make(map[string]*entry),
		intern: certs.NewInterner(),
	}
}

// scanChanges is what a scan found: replacements of a slot's certificate
// by a newer one, and entries that left the cache.
type scanChanges struct {
	added    []*entry
	replaced []replacement
	removed  []*entry
}

type replacement struct{ old, new *entry }

// judge turns a scan's changes and every entry of the inventory into
// alerts; it runs while the inventory is locked, so it may update the
// entries' scan-only fields.
type judge func(ch scanChanges, entries iter.Seq[*entry]) []Alert

// scan makes the certificates found the inventory, calls judge and
// publishes the result at now. build computes the entry of a certificate
// seen for the first time (nil skips it), with the inventory's interner.
// It returns the changes, judge's alerts and the number of certificates.
func (inv *inventory) scan(found []*certmagic.Certificate, build func(*certmagic.Certificate, *certs.Interner) *entry, j judge, now time.Time) (scanChanges, []Alert, int) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	ch := inv.update(found, func(c *certmagic.Certificate) *entry { return build(c, inv.intern) })
	alerts := j(ch, maps.Values(inv.byHash))
	inv.publish(ch, now)
	return ch, alerts, len(inv.byHash)
}

// update applies the certificates found; the caller holds mu.
func (inv *inventory) update(found []*certmagic.Certificate, build func(*certmagic.Certificate) *entry) scanChanges {
	var ch scanChanges
	inv.gen++
	gen := inv.gen
	current := make([]*entry, 0, len(found))
	if len(inv.byHash) == 0 && len(found) > 0 {
		inv.byHash = make(map[string]*entry, len(found)) // spare the first scan the map's growth
	}
	for _, cert := range found {
		e, ok := inv.byHash[cert.Hash()]
		if !ok {
			if e = build(cert); e == nil {
				continue
			}
			inv.byHash[e.Hash] = e
			ch.added = append(ch.added, e)
		}
		if e.gen != gen { // a certificate found under several names
			e.gen = gen
			current = append(current, e)
		}
	}
	if len(current) < len(inv.byHash) {
		for hash, e := range inv.byHash {
			if e.gen != gen {
				delete(inv.byHash, hash)
				ch.removed = append(ch.removed, e)
			}
		}
	}
	for _, e := range current {
		cur := inv.slots[e.slot]
		switch {
		case cur == nil:
			inv.slots[e.slot] = e
		case cur == e:
		case e.Leaf.NotBefore.After(cur.Leaf.NotBefore):
			ch.replaced = append(ch.replaced, replacement{old: cur, new: e})
			inv.slots[e.slot] = e
		case cur.gen != gen:
			inv.slots[e.slot] = e // the newer one left; not a renewal
		}
	}
	if len(ch.removed) > 0 {
		for slot, e := range inv.slots {
			if e.gen != gen {
				delete(inv.slots, slot)
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

// publish replaces the readers' view if the set of entries changed; the
// caller holds mu.
func (inv *inventory) publish(ch scanChanges, now time.Time) {
	inv.viewMu.Lock()
	defer inv.viewMu.Unlock()
	if inv.view == nil || len(ch.added) > 0 || len(ch.removed) > 0 {
		entries := make([]*entry, 0, len(inv.byHash))
		for _, e := range inv.byHash {
			entries = append(entries, e)
		}
		inv.view = &view{entries: entries}
	}
	inv.scannedAt = now
}

func compareEntries(a, b *entry) int {
	if c := strings.Compare(a.FirstName(), b.FirstName()); c != 0 {
		return c
	}
	return strings.Compare(a.Hash, b.Hash)
}

// snapshot returns the current entries in no particular order, and when
// they were scanned.
func (inv *inventory) snapshot() ([]*entry, time.Time) {
	inv.viewMu.RLock()
	defer inv.viewMu.RUnlock()
	if inv.view == nil {
		return nil, inv.scannedAt
	}
	return inv.view.entries, inv.scannedAt
}

// sortedSnapshot is snapshot in order of first name, then hash.
func (inv *inventory) sortedSnapshot() ([]*entry, time.Time) {
	inv.viewMu.RLock()
	v, at := inv.view, inv.scannedAt
	inv.viewMu.RUnlock()
	if v == nil {
		return nil, at
	}
	return v.inOrder(), at
}
