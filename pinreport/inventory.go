package pinreport

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/google/btree"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

// inventory is the set of cached certificates, each with its entry, kept
// current from certificate events one name at a time, and reconciled
// with the certificate cache in full at start and every scan_interval.
// Besides the entries by hash it keeps the indexes readers page through
// (by name per issuer kind, by expiry, the entries in warning or worse),
// counts by kind and level, and the schedule of level changes, so that
// neither events nor the passing of time cost work per certificate.
//
// Entries' facts never change; their bookkeeping, and everything here, is
// guarded by mu. Readers copy the entries they render under the read
// lock and render them after.
type inventory struct {
	mu        sync.RWMutex
	byHash    map[string]*entry
	slots     map[uint64]*entry // the newest entry of each slot
	byName    [numKinds]*btree.BTreeG[*entry]
	byExpiry  *btree.BTreeG[*entry]
	troubled  *btree.BTreeG[*entry] // level warning or worse, by name
	sched     schedule
	counts    [numKinds][numLevels]int
	revCounts [numRevStatus]int
	intern    *certs.Interner
	gen       uint32

	// owner is the policy (thresholds and pins) of the config whose app
	// changes the inventory: the newest one to reconcile it. An older
	// config still running during a reload changes nothing.
	owner        *policy
	reconciledAt time.Time
	updatedAt    time.Time
}

// policy is what one config judges certificates by. seq orders the
// configs of the process: a newer config takes the inventory over.
type policy struct {
	seq   uint64
	th    thresholds
	rules pinRules
}

// btreeDegree suits pointers: nodes of up to 63 items.
const btreeDegree = 32

func newInventory() *inventory {
	inv := &inventory{
		byHash:   make(map[string]*entry),
		slots:    make(map[uint64]*entry),
		byExpiry: btree.NewG(btreeDegree, lessExpiry),
		troubled: btree.NewG(btreeDegree, lessName),
		intern:   certs.NewInterner(),
	}
	for k := range inv.byName {
		inv.byName[k] = btree.NewG(btreeDegree, lessName)
	}
	return inv
}

// kindsByName are the issuer kinds in the order of their names.
var kindsByName = [numKinds]IssuerKind{KindACME, KindInternal, KindManual}

func lessName(a, b *entry) bool { return compareEntries(a, b) < 0 }

func lessExpiry(a, b *entry) bool {
	if c := a.Leaf.NotAfter.Compare(b.Leaf.NotAfter); c != 0 {
		return c < 0
	}
	return a.Hash < b.Hash
}

func compareEntries(a, b *entry) int {
	if c := strings.Compare(a.FirstName(), b.FirstName()); c != 0 {
		return c
	}
	return strings.Compare(a.Hash, b.Hash)
}

// builder computes the entry of a certificate seen for the first time,
// with the inventory's interner; nil skips the certificate.
type builder func(*certmagic.Certificate, *certs.Interner) *entry

// changes is what an update of the inventory did, for alerts and logs.
type changes struct {
	added      []*entry
	replaced   []replacement // a newer certificate took a slot
	removed    []*entry
	levels     []levelChange // levels reached and not alerted before
	mismatches []mismatch    // expected pins a chain matches none of
}

type replacement struct{ old, new *entry }

type levelChange struct {
	e   *entry
	lvl level
	why string
}

type mismatch struct {
	e    *entry
	rule *pinRule
}

// empty reports whether nothing changed.
func (ch *changes) empty() bool {
	return len(ch.added)+len(ch.replaced)+len(ch.removed)+len(ch.levels)+len(ch.mismatches) == 0
}

// reconcile makes found, every certificate the lookups of a full pass
// over the names found, the inventory, as judged by p. If p is newer than
// the policy that judged the inventory so far, p takes it over, and every
// entry is judged again (levels, pins); if p is older, nothing changes and
// ok is false.
func (inv *inventory) reconcile(p *policy, found []*certmagic.Certificate, build builder, now time.Time) (ch changes, ok bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.owner != nil && p.seq < inv.owner.seq {
		return ch, false
	}
	adopted := inv.owner != p
	inv.owner = p
	inv.gen++
	gen := inv.gen
	var fresh []*entry
	for _, cert := range found {
		e, ok := inv.byHash[cert.Hash()]
		if !ok {
			if e = build(cert, inv.intern); e == nil {
				continue
			}
			inv.byHash[e.Hash] = e
			fresh = append(fresh, e)
		}
		e.gen = gen
	}
	// New ones first: a renewal's predecessor still holds its slot, so
	// the replacement is seen; the sweep then drops what left.
	for _, e := range fresh {
		inv.insert(e, now, &ch)
	}
	for _, e := range inv.byHash {
		if e.gen != gen {
			inv.remove(e, &ch)
		}
	}
	if adopted {
		for _, e := range inv.byHash {
			inv.judge(e, now, &ch)
		}
	}
	inv.reconciledAt, inv.updatedAt = now, now
	return ch, true
}

// refresh looks names up (names from certificate events) and applies what
// it finds: certificates not seen before are added, and entries listed
// under those names whose certificate left the cache are removed. It does
// work for these names only, and nothing unless p owns the inventory.
func (inv *inventory) refresh(p *policy, names []string, lookup certs.Lookup, build builder, now time.Time) changes {
	var ch changes
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.owner != p {
		return ch
	}
	inv.refreshLocked(names, lookup, build, now, &ch)
	if !ch.empty() {
		inv.updatedAt = now
	}
	return ch
}

// refreshLocked is refresh; the caller holds mu.
func (inv *inventory) refreshLocked(names []string, lookup certs.Lookup, build builder, now time.Time, ch *changes) {
	inv.gen++
	gen := inv.gen
	looked := make(map[string]bool, len(names))
	var candidates []*entry
	for _, name := range names {
		if looked[name] {
			continue
		}
		looked[name] = true
		candidates = inv.appendListedUnder(candidates, name)
		for _, cert := range lookup(name) {
			if cert.Leaf == nil {
				continue
			}
			e, ok := inv.byHash[cert.Hash()]
			if !ok {
				if e = build(&cert, inv.intern); e == nil {
					continue
				}
				inv.byHash[e.Hash] = e
				inv.insert(e, now, ch)
			}
			e.gen = gen
		}
	}
	// A renewal displaces its predecessor, which usually left the cache
	// with it: look its names up too.
	for _, r := range ch.replaced {
		candidates = append(candidates, r.old)
	}
	for _, e := range candidates {
		if e.gen == gen || inv.byHash[e.Hash] != e {
			continue
		}
		if name := e.FirstName(); !looked[name] {
			looked[name] = true
			if cached(lookup(name), e.Hash) {
				e.gen = gen
				continue
			}
		}
		inv.remove(e, ch)
	}
}

// appendListedUnder appends the entries whose first name is name.
func (inv *inventory) appendListedUnder(out []*entry, name string) []*entry {
	pivot := &entry{Facts: certs.Facts{Names: []string{name}}}
	for _, t := range inv.byName {
		t.AscendGreaterOrEqual(pivot, func(e *entry) bool {
			if e.FirstName() != name {
				return false
			}
			out = append(out, e)
			return true
		})
	}
	return out
}

// cached reports whether found holds the certificate with hash.
func cached(found []certmagic.Certificate, hash string) bool {
	return slices.ContainsFunc(found, func(c certmagic.Certificate) bool { return c.Hash() == hash })
}

// advance applies the level changes due at now. Before a certificate's
// level rises, its first name is looked up again: a certificate that left
// the cache without an event (renewed by another instance sharing the
// storage, evicted, unloaded) is dropped, and its successor added, rather
// than alerted about.
func (inv *inventory) advance(p *policy, now time.Time, lookup certs.Lookup, build builder) changes {
	var ch changes
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.owner != p {
		return ch
	}
	nowNano := now.UnixNano()
	for {
		e := inv.sched.first()
		if e == nil || e.nextAt > nowNano {
			break
		}
		inv.sched.unset(e)
		e.nextAt = 0
		inv.refreshLocked([]string{e.FirstName()}, lookup, build, now, &ch)
		if inv.byHash[e.Hash] == e {
			inv.relevel(e, now, &ch)
		}
	}
	if !ch.empty() {
		inv.updatedAt = now
	}
	return ch
}

// nextDue returns when the next level change is due, or the zero time.
func (inv *inventory) nextDue() time.Time {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	if e := inv.sched.first(); e != nil {
		return time.Unix(0, e.nextAt)
	}
	return time.Time{}
}

// insert indexes a new entry, already in byHash, and judges it: its slot
// (a newer certificate for the same names is a renewal), its level and
// its pins.
func (inv *inventory) insert(e *entry, now time.Time, ch *changes) {
	inv.byName[e.Kind].ReplaceOrInsert(e)
	inv.byExpiry.ReplaceOrInsert(e)
	e.level = levelOK
	inv.counts[e.Kind][levelOK]++
	inv.revCounts[e.rev.status]++
	ch.added = append(ch.added, e)

	switch cur := inv.slots[e.slot]; {
	case cur == nil:
		inv.slots[e.slot] = e
	case !sameSlot(cur, e):
		// A hash collision: e is tracked without a slot.
	case e.Leaf.NotBefore.After(cur.Leaf.NotBefore):
		ch.replaced = append(ch.replaced, replacement{old: cur, new: e})
		inv.slots[e.slot] = e
	}
	if inv.owner != nil {
		inv.judge(e, now, ch)
	}
}

// judge works out an entry's level and pins under the owner's policy.
func (inv *inventory) judge(e *entry, now time.Time, ch *changes) {
	inv.relevel(e, now, ch)
	rules := inv.owner.rules
	if len(rules) == 0 {
		return
	}
	for _, rule := range rules.appliesTo(e.Names) {
		if rule.matchesChain(e.ChainPins()) || slices.Contains(e.mismatched, rule.pattern) {
			continue
		}
		e.mismatched = append(e.mismatched, rule.pattern)
		ch.mismatches = append(ch.mismatches, mismatch{e: e, rule: rule})
	}
}

// relevel sets e's level at now, records a level not alerted before and
// schedules the next change.
func (inv *inventory) relevel(e *entry, now time.Time, ch *changes) {
	th := inv.owner.th
	lvl := th.levelAt(e, now)
	if lvl != e.level {
		inv.counts[e.Kind][e.level]--
		inv.counts[e.Kind][lvl]++
		switch {
		case lvl == levelOK:
			inv.troubled.Delete(e)
		case e.level == levelOK:
			inv.troubled.ReplaceOrInsert(e)
		}
		e.level = lvl
	}
	if lvl > e.alerted {
		e.alerted = lvl
		ch.levels = append(ch.levels, levelChange{e: e, lvl: lvl, why: th.why(e, lvl)})
	}
	e.nextAt = 0
	if next := th.nextChange(e, now); !next.IsZero() {
		e.nextAt = next.UnixNano()
	}
	inv.sched.set(e)
}

// remove drops an entry from every index. If it held its slot, the
// newest other cached certificate of the slot takes it, without a
// renewal: the newer one left.
func (inv *inventory) remove(e *entry, ch *changes) {
	delete(inv.byHash, e.Hash)
	inv.byName[e.Kind].Delete(e)
	inv.byExpiry.Delete(e)
	if e.level != levelOK {
		inv.troubled.Delete(e)
	}
	inv.counts[e.Kind][e.level]--
	inv.revCounts[e.rev.status]--
	inv.sched.unset(e)
	ch.removed = append(ch.removed, e)
	if inv.slots[e.slot] != e {
		return
	}
	delete(inv.slots, e.slot)
	var next *entry
	for _, other := range inv.appendListedUnder(nil, e.FirstName()) {
		if sameSlot(other, e) && (next == nil || other.Leaf.NotBefore.After(next.Leaf.NotBefore)) {
			next = other
		}
	}
	if next != nil {
		inv.slots[e.slot] = next
	}
}

// size returns the number of entries.
func (inv *inventory) size() int {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return len(inv.byHash)
}

// times returns when the inventory was last reconciled in full and last
// changed.
func (inv *inventory) times() (reconciled, updated time.Time) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.reconciledAt, inv.updatedAt
}

// levelCounts returns the number of entries at each level.
func (inv *inventory) levelCounts() [numLevels]int {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	var out [numLevels]int
	for k := range inv.counts {
		for l, n := range inv.counts[k] {
			out[l] += n
		}
	}
	return out
}

// firstNames returns the first name of every entry, sorted, each once.
func (inv *inventory) firstNames() []string {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	var names []string
	for _, t := range inv.byName {
		// Each index is in order: merging keeps the whole in order.
		part := make([]string, 0, t.Len())
		t.Ascend(func(e *entry) bool {
			if n := e.FirstName(); len(part) == 0 || part[len(part)-1] != n {
				part = append(part, n)
			}
			return true
		})
		names = mergeSorted(names, part)
	}
	return names
}

// lookupEntries returns the entries of the certificates that serve name,
// in the order lookup finds them (certmagic: exact names first, then
// wildcards), each once. Right after a renewal the cache holds a
// certificate the inventory has not taken in yet (the event that
// announces it is handled a moment later): until then the name answers
// with the entries listed under it, the certificate it replaced, rather
// than with nothing.
func (inv *inventory) lookupEntries(name string, lookup certs.Lookup) []*entry {
	found := lookup(name)
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	var out []*entry
	for _, c := range found {
		if e, ok := inv.byHash[c.Hash()]; ok && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	if len(out) == 0 && len(found) > 0 {
		out = inv.appendListedUnder(out, name)
	}
	return out
}

// all returns every entry in order of first name, then hash. It is for
// tests and small inventories; readers of a large one page.
func (inv *inventory) all() []*entry {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	out := make([]*entry, 0, len(inv.byHash))
	for _, t := range inv.byName {
		t.Ascend(func(e *entry) bool { out = append(out, e); return true })
	}
	slices.SortFunc(out, compareEntries)
	return out
}

// seriesEntries returns the entries that get metric series of their own:
// those at level min or worse (none when min is numLevels), one per first
// name and kind, the one expiring last, in the order of their labels
// (issuer_kind, then name), the order the registry sorts series in: a
// sorted input costs its sort one pass. The entries are copied under the
// read lock; their facts are read after it, safely, since they never
// change.
func (inv *inventory) seriesEntries(min level) []*entry {
	if min >= numLevels {
		return nil
	}
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	var out []*entry
	var run [numKinds]*entry // the newest entry per kind with the current name
	var runName string
	flush := func() {
		for k, e := range run {
			if e != nil {
				out = append(out, e)
				run[k] = nil
			}
		}
		runName = ""
	}
	visit := func(e *entry) bool {
		if e.level < min {
			return true
		}
		if name := e.FirstName(); name != runName {
			flush()
			runName = name
		}
		if r := run[e.Kind]; r == nil || e.Leaf.NotAfter.After(r.Leaf.NotAfter) {
			run[e.Kind] = e
		}
		return true
	}
	if min > levelOK {
		out = make([]*entry, 0, inv.troubled.Len())
		inv.troubled.Ascend(visit)
		flush()
		slices.SortStableFunc(out, func(a, b *entry) int { return strings.Compare(a.Kind.String(), b.Kind.String()) })
		return out
	}
	out = make([]*entry, 0, len(inv.byHash))
	for _, k := range kindsByName {
		inv.byName[k].Ascend(visit)
		flush()
	}
	return out
}
