package pinreport

// This file keeps, for the benchmarks only, the inventory as it was before
// it followed events (main at 8628417: pinreport/state.go, scan.go and the
// metrics collector), so that the old and the new are measured side by
// side in the same run. Every scan looked every name up again, rebuilt the
// readers' view when the set changed, judged every certificate's level,
// and ran every scan_interval (1m) and after every certificate event.
//
// The old per-name status keeps its fields that only the old event code
// wrote, so that its retained memory is measured as it was.
//lint:file-ignore U1000 the old state's shape, kept for a fair memory comparison

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

type legacyEntry struct {
	certs.Facts
	slot    string
	renewAt time.Time

	gen        uint64
	alerted    level
	mismatched []string
}

type legacyState struct {
	scanMu sync.Mutex
	byHash map[string]*legacyEntry
	slots  map[string]*legacyEntry
	intern *certs.Interner
	gen    uint64

	mu        sync.RWMutex
	view      *legacyView
	scannedAt time.Time
	observed  map[string]struct{}
	names     map[string]*legacyNameStatus
}

type legacyNameStatus struct {
	lastObtained time.Time
	lastFailure  time.Time
	lastError    string
	failures     int
	issuerKey    string
}

type legacyView struct {
	entries  []*legacyEntry
	sortOnce sync.Once
	sorted   []*legacyEntry
}

func newLegacyState(observed []string) *legacyState {
	s := &legacyState{
		byHash:   make(map[string]*legacyEntry),
		slots:    make(map[string]*legacyEntry),
		intern:   certs.NewInterner(),
		observed: make(map[string]struct{}),
		names:    make(map[string]*legacyNameStatus),
	}
	for _, n := range observed {
		s.observed[n] = struct{}{}
	}
	return s
}

func legacySlotOf(names []string) string {
	if slices.IsSorted(names) {
		return strings.Join(names, ",")
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	return strings.Join(sorted, ",")
}

type legacyChanges struct {
	added    []*legacyEntry
	replaced [][2]*legacyEntry
	removed  []*legacyEntry
}

func (s *legacyState) update(found []*certmagic.Certificate, build func(*certmagic.Certificate) *legacyEntry) legacyChanges {
	var ch legacyChanges
	s.gen++
	gen := s.gen
	current := make([]*legacyEntry, 0, len(found))
	if len(s.byHash) == 0 && len(found) > 0 {
		s.byHash = make(map[string]*legacyEntry, len(found))
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
		if e.gen != gen {
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
			ch.replaced = append(ch.replaced, [2]*legacyEntry{cur, e})
			s.slots[e.slot] = e
		case cur.gen != gen:
			s.slots[e.slot] = e
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

func (s *legacyState) publish(ch legacyChanges, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.view == nil || len(ch.added) > 0 || len(ch.removed) > 0 {
		entries := make([]*legacyEntry, 0, len(s.byHash))
		for _, e := range s.byHash {
			entries = append(entries, e)
		}
		s.view = &legacyView{entries: entries}
	}
	s.scannedAt = now
}

func (s *legacyState) snapshot() []*legacyEntry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.view == nil {
		return nil
	}
	return s.view.entries
}

func (s *legacyState) sortedSnapshot() []*legacyEntry {
	s.mu.RLock()
	v := s.view
	s.mu.RUnlock()
	v.sortOnce.Do(func() {
		v.sorted = slices.SortedFunc(slices.Values(v.entries), func(a, b *legacyEntry) int {
			if c := strings.Compare(a.FirstName(), b.FirstName()); c != 0 {
				return c
			}
			return strings.Compare(a.Hash, b.Hash)
		})
	})
	return v.sorted
}

func (s *legacyState) observedNames() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.observed))
	for n := range s.observed {
		out = append(out, n)
	}
	return out
}

func (s *legacyState) forget(names []string) {
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

// legacyScan is the old App.scan with its config reduced to what the
// benchmarks use: no Caddy config, a lookup, thresholds and pins.
func legacyScan(s *legacyState, lookup certs.Lookup, th thresholds, rules pinRules, now time.Time) {
	observed := s.observedNames()
	names := certs.AppendMissing(certs.Names(nil, nil), observed)
	found := legacyCollect(names, lookup)
	s.scanMu.Lock()
	cl := certs.NewClassifier(caddy.Context{}, nil)
	ch := s.update(found.Certs, func(cert *certmagic.Certificate) *legacyEntry {
		o := cl.Origin(cert)
		e := &legacyEntry{Facts: certs.NewFacts(cert, o, s.intern), slot: o.Kind.String() + "|" + legacySlotOf(cert.Names)}
		e.renewAt = renewalPoint(cert.Leaf.NotBefore, cert.Leaf.NotAfter, 0)
		return e
	})
	for _, r := range ch.replaced {
		_ = r[0].SPKI == r[1].SPKI
	}
	for _, e := range s.byHash {
		if lvl, _ := legacyLevel(th, e, now); lvl > e.alerted {
			e.alerted = lvl
		}
		if len(rules) == 0 {
			continue
		}
		for _, rule := range rules.appliesTo(e.Names) {
			if rule.matchesChain(e.ChainPins()) || slices.Contains(e.mismatched, rule.pattern) {
				continue
			}
			e.mismatched = append(e.mismatched, rule.pattern)
		}
	}
	s.publish(ch, now)
	s.scanMu.Unlock()
	if len(found.Missing) > 0 {
		s.forget(found.Missing)
	}
}

// legacyCollect is certs.Collect as it was.
func legacyCollect(names []string, lookup certs.Lookup) certs.Found {
	workers := min(runtime.GOMAXPROCS(0), len(names)/2048+1)
	parts := make([]certs.Found, workers)
	var wg sync.WaitGroup
	for w := range workers {
		chunk := names[w*len(names)/workers : (w+1)*len(names)/workers]
		wg.Go(func() {
			part := certs.Found{Certs: make([]*certmagic.Certificate, 0, len(chunk))}
			for _, name := range chunk {
				found := lookup(name)
				if len(found) == 0 {
					part.Missing = append(part.Missing, name)
				}
				for i := range found {
					if found[i].Leaf != nil {
						part.Certs = append(part.Certs, &found[i])
					}
				}
			}
			parts[w] = part
		})
	}
	wg.Wait()
	if workers == 1 {
		return parts[0]
	}
	var all certs.Found
	for _, p := range parts {
		all.Certs = append(all.Certs, p.Certs...)
		all.Missing = append(all.Missing, p.Missing...)
	}
	return all
}

// legacyCollector is the old metrics collector: every certificate's level
// judged at scrape time, the newest per label set found with a map.
type legacyCollector struct {
	s  *legacyState
	th thresholds
	c  *collector
}

func (c *legacyCollector) Describe(ch chan<- *prometheus.Desc) { c.c.Describe(ch) }

func (c *legacyCollector) Collect(ch chan<- prometheus.Metric) {
	entries := c.s.snapshot()
	now := time.Now()
	type key struct{ name, kind string }
	newest := make(map[key]*legacyEntry, len(entries))
	var byLevel [numLevels]int
	for _, e := range entries {
		lvl, _ := legacyLevel(c.th, e, now)
		byLevel[lvl]++
		k := key{e.FirstName(), e.Kind.String()}
		if cur, ok := newest[k]; !ok || e.Leaf.NotAfter.After(cur.Leaf.NotAfter) {
			newest[k] = e
		}
	}
	for k, e := range newest {
		ch <- prometheus.MustNewConstMetric(c.c.notAfter, prometheus.GaugeValue, unixSeconds(e.Leaf.NotAfter), k.name, k.kind)
		ch <- prometheus.MustNewConstMetric(c.c.notBefore, prometheus.GaugeValue, unixSeconds(e.Leaf.NotBefore), k.name, k.kind)
	}
	for lvl := range numLevels {
		ch <- prometheus.MustNewConstMetric(c.c.certs, prometheus.GaugeValue, float64(byLevel[lvl]), lvl.String())
	}
}

// legacyLevel is thresholds.level as it was: the reason is formatted on
// every call.
func legacyLevel(t thresholds, e *legacyEntry, now time.Time) (level, string) {
	notAfter := e.Leaf.NotAfter
	remaining := notAfter.Sub(now)
	lifetime := e.Lifetime()
	if !now.Before(notAfter) {
		return levelExpired, "certificate has expired"
	}
	if t.criticalBefore > 0 {
		if remaining < t.criticalBefore {
			return levelCritical, fmt.Sprintf("less than critical_before (%s) remains", t.criticalBefore)
		}
	} else if remaining < criticalWindow(lifetime) {
		return levelCritical, fmt.Sprintf("less than %s of its %s lifetime remains", criticalWindow(lifetime), lifetime.Round(time.Second))
	}
	if t.warningBefore > 0 {
		if remaining < t.warningBefore {
			return levelWarning, fmt.Sprintf("less than warning_before (%s) remains", t.warningBefore)
		}
		return levelOK, ""
	}
	grace := t.grace
	if grace <= 0 {
		grace = defaultGrace(lifetime)
	}
	if now.After(e.renewAt.Add(grace)) {
		return levelWarning, fmt.Sprintf("past its renewal point (%s) by more than %s without a renewal", e.renewAt.UTC().Format(time.RFC3339), grace)
	}
	return levelOK, ""
}
