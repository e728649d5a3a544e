package fleet

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// observer keeps what this instance has seen of the fleet: every
// instance's newest key, when that key was seen to change (on this
// instance's clock), the facts last loaded and the clock estimate. It
// outlives config reloads (see observers in fleet.go), so a reload neither
// reloads every record nor starts the warm-up again.
type observer struct {
	self    string
	started time.Time
	now     func() time.Time

	mu            sync.Mutex
	peers         map[string]*peer
	listed        bool      // a list has succeeded
	prevListStart time.Time // start of the previous successful list
	asOf          time.Time // end of the last successful list
	warned        map[string]bool
	lastKey       string    // own key last written
	lastWritten   time.Time // its time, strictly increasing
	ownOld        []string  // own keys to delete
	health        health
	// firstSeen is when each drift item was first in a view; new items
	// alert only after the drift grace.
	firstSeen map[string]time.Time
	stats     *stats
}

// peer is one instance as this observer knows it.
type peer struct {
	id         string
	key        recordKey
	lastChange time.Time // this instance's clock
	older      []string  // keys older than key, left by a crash between Store and Delete
	facts      *InstanceFacts
	factsHash  string
	recordErr  string
	// clock is the estimate of the instance's clock minus ours, from the
	// write times in its keys; clockKnown once there is one.
	clock      time.Duration
	clockKnown bool
}

// health is what this instance knows about its own use of the storage.
type health struct {
	LastWrite     time.Time     `json:"last_write,omitzero"`
	WriteError    string        `json:"write_error,omitempty"`
	WriteFailing  time.Time     `json:"write_failing_since,omitzero"`
	LastList      time.Time     `json:"last_list,omitzero"`
	ListError     string        `json:"list_error,omitempty"`
	ListFailing   time.Time     `json:"list_failing_since,omitzero"`
	ListDuration  time.Duration `json:"list_duration_ns"`
	WriteDuration time.Duration `json:"write_duration_ns"`
}

func newObserver(self string, now func() time.Time) *observer {
	return &observer{
		self:      self,
		started:   now(),
		now:       now,
		peers:     make(map[string]*peer),
		warned:    make(map[string]bool),
		firstSeen: make(map[string]time.Time),
		stats:     newStats(),
	}
}

// write stores this instance's record under a new key and deletes the
// previous one: one Store and one Delete per interval.
func (o *observer) write(ctx context.Context, st certmagic.Storage, facts InstanceFacts, logger *zap.Logger) error {
	o.mu.Lock()
	written := o.now().Truncate(time.Millisecond)
	if !written.After(o.lastWritten) {
		written = o.lastWritten.Add(time.Millisecond) // keys must change on every write
	}
	prev := o.lastKey
	o.mu.Unlock()

	key, body, err := encodeRecord(o.self, written, facts)
	if err != nil {
		return err
	}
	start := o.now()
	err = st.Store(ctx, key, body)
	o.stats.op("store", err)
	took := o.now().Sub(start)

	o.mu.Lock()
	defer o.mu.Unlock()
	o.health.WriteDuration = took
	if err != nil {
		if o.health.WriteError == "" {
			o.health.WriteFailing = start
			logger.Error("cannot write this instance's fleet record; the other instances will call it stale", zap.String("key", key), zap.Error(err))
		}
		o.health.WriteError = err.Error()
		return err
	}
	if o.health.WriteError != "" {
		logger.Info("fleet record written again", zap.String("key", key), zap.Time("failing_since", o.health.WriteFailing))
	}
	o.health.WriteError, o.health.WriteFailing = "", time.Time{}
	o.health.LastWrite = start
	o.lastKey, o.lastWritten = key, written
	o.stats.bytesWritten.Store(int64(len(body)))
	if prev != "" && prev != key {
		o.ownOld = append(o.ownOld, prev)
	}
	return nil
}

// deleteOld deletes this instance's superseded keys; one Delete per
// interval in the steady state.
func (o *observer) deleteOld(ctx context.Context, st certmagic.Storage, logger *zap.Logger) {
	o.mu.Lock()
	old := o.ownOld
	o.ownOld = nil
	o.mu.Unlock()
	var keep []string
	for _, key := range old {
		err := st.Delete(ctx, key)
		o.stats.op("delete", err)
		if err != nil {
			logger.Debug("deleting superseded fleet record", zap.String("key", key), zap.Error(err))
			keep = append(keep, key)
		}
	}
	if len(keep) > 0 {
		o.mu.Lock()
		o.ownOld = append(o.ownOld, keep...)
		o.mu.Unlock()
	}
}

// list lists the instance records (one List) and loads those whose facts
// changed since this observer last loaded them. A failed list changes
// nothing but this instance's own health: nobody is declared stale or
// gone on the strength of a failed read.
func (o *observer) list(ctx context.Context, st certmagic.Storage, logger *zap.Logger) error {
	start := o.now()
	keys, err := st.List(ctx, instancesPrefix, false)
	o.stats.op("list", err)
	end := o.now()
	if errors.Is(err, fs.ErrNotExist) {
		keys, err = nil, nil // nobody has written yet
	}
	if err != nil {
		o.mu.Lock()
		if o.health.ListError == "" {
			o.health.ListFailing = start
			logger.Error("cannot list the fleet records; the view stays as of the last successful list", zap.String("prefix", instancesPrefix), zap.Error(err))
		}
		o.health.ListError = err.Error()
		o.health.ListDuration = end.Sub(start)
		o.mu.Unlock()
		return err
	}

	newest := make(map[string]recordKey)
	older := make(map[string][]string) // other instances' superseded keys
	var ownOld []string
	o.mu.Lock()
	lastKey := o.lastKey
	o.mu.Unlock()
	for _, key := range keys {
		k, err := parseKey(key)
		if err != nil {
			if !isTempKey(key) {
				o.warnOnce(logger, key, skipBadKey, fmt.Errorf("%q under the fleet prefix is not a fleet record; remove it", key))
			}
			continue
		}
		if k.instance == o.self && lastKey != "" {
			// Our own newest record is the one we last wrote, whatever
			// the times in older keys say (a clock stepped back across a
			// restart must not make us delete our new records).
			if k.key == lastKey {
				newest[k.instance] = k
			} else {
				ownOld = append(ownOld, k.key)
			}
			continue
		}
		cur, ok := newest[k.instance]
		switch {
		case !ok:
			newest[k.instance] = k
		case k.written.After(cur.written):
			newest[k.instance] = k
			if k.instance == o.self {
				ownOld = append(ownOld, cur.key)
			} else {
				older[k.instance] = append(older[k.instance], cur.key)
			}
		case k.instance == o.self:
			ownOld = append(ownOld, k.key)
		default:
			older[k.instance] = append(older[k.instance], k.key)
		}
	}

	// Load the records whose facts changed, outside the lock.
	o.mu.Lock()
	var toLoad []recordKey
	for id, k := range newest {
		if p, ok := o.peers[id]; !ok || p.factsHash != k.hash {
			toLoad = append(toLoad, k)
		}
	}
	o.mu.Unlock()
	loaded := make(map[string]*InstanceFacts, len(toLoad))
	failed := make(map[string]string)
	for _, k := range toLoad {
		body, err := st.Load(ctx, k.key)
		o.stats.op("load", err)
		if err != nil {
			// The key may be gone already (the owner wrote a newer one):
			// try again next interval.
			failed[k.instance] = ""
			logger.Debug("loading fleet record", zap.String("key", k.key), zap.Error(err))
			continue
		}
		facts, err := decodeRecord(k, body)
		if err != nil {
			reason := skipMalformed
			var se *skipError
			if errors.As(err, &se) {
				reason = se.reason
			}
			o.warnOnce(logger, k.key, reason, err)
			failed[k.instance] = err.Error()
			continue
		}
		loaded[k.instance] = &facts
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	for id, k := range newest {
		p, ok := o.peers[id]
		if !ok {
			p = &peer{id: id}
			o.peers[id] = p
		}
		if p.key.key != k.key {
			o.sawChange(p, k, start, end)
		}
		p.key, p.older = k, older[id]
		if f, ok := loaded[id]; ok {
			p.facts, p.factsHash, p.recordErr = f, k.hash, ""
		} else if msg, ok := failed[id]; ok && msg != "" {
			p.factsHash, p.recordErr = k.hash, msg // don't retry a bad record until it changes
		}
	}
	for id := range o.peers {
		if _, ok := newest[id]; !ok {
			delete(o.peers, id) // its record was removed: it left the fleet
		}
	}
	if o.health.ListError != "" {
		logger.Info("fleet records listed again", zap.Time("failing_since", o.health.ListFailing))
	}
	o.health.ListError, o.health.ListFailing = "", time.Time{}
	o.health.LastList, o.health.ListDuration = start, end.Sub(start)
	o.listed, o.prevListStart, o.asOf = true, start, end
	o.ownOld = append(o.ownOld, ownOld...)
	o.stats.records.Store(int64(len(newest)))
	return nil
}

// forget deletes every record of the given instances (their newest key
// and any older one a crash left) and drops them from the view. A key
// another instance deleted first counts as deleted; an instance that
// wrote a new record meanwhile comes back with the next list, since only
// the keys listed are deleted.
func (o *observer) forget(ctx context.Context, st certmagic.Storage, ids []string, after time.Duration, logger *zap.Logger) {
	for _, id := range ids {
		o.mu.Lock()
		p, ok := o.peers[id]
		var keys []string
		var hostname string
		if ok && id != o.self {
			keys = append([]string{p.key.key}, p.older...)
			if p.facts != nil {
				hostname = p.facts.Hostname
			}
		}
		o.mu.Unlock()
		if len(keys) == 0 {
			continue
		}
		var failed error
		for _, key := range keys {
			err := st.Delete(ctx, key)
			o.stats.op("delete", err)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				failed = err
			}
		}
		if failed != nil {
			logger.Warn("cannot delete a forgotten instance's fleet record; trying again next interval",
				zap.String("instance", id), zap.Error(failed))
			continue
		}
		o.mu.Lock()
		if cur, ok := o.peers[id]; ok && cur.key.key == keys[0] {
			delete(o.peers, id)
		}
		o.mu.Unlock()
		logger.Info("forgot fleet instance", zap.String("instance", id), zap.String("hostname", hostname),
			zap.Duration("forget_after", after), zap.Strings("deleted", keys))
	}
}

// sawChange notes that an instance's key changed in a list that ran from
// start to end. The write became visible after the previous list started
// and before this one ended, on this instance's clock; the key's time is
// the writer's clock, so the distance to that bracket is a bound on the
// clocks' difference (zero inside it). The first list has no bracket: a
// record seen then is dated by its own key, but never in the future.
func (o *observer) sawChange(p *peer, k recordKey, start, end time.Time) {
	if !o.listed {
		p.lastChange = k.written
		if p.lastChange.After(end) {
			p.lastChange = end
		}
		return
	}
	p.lastChange = end
	lo, hi := o.prevListStart, end
	switch {
	case k.written.After(hi):
		p.clock = k.written.Sub(hi)
	case k.written.Before(lo):
		p.clock = k.written.Sub(lo)
	default:
		p.clock = 0
	}
	p.clockKnown = true
}

// warnOnce logs a skipped key the first time it is seen.
func (o *observer) warnOnce(logger *zap.Logger, key, reason string, err error) {
	o.mu.Lock()
	seen := o.warned[key]
	o.warned[key] = true
	o.mu.Unlock()
	o.stats.skipped(reason)
	if !seen {
		logger.Warn("skipping fleet record", zap.String("key", key), zap.String("reason", reason), zap.Error(err))
	}
}

// snapshot copies what a view is built from.
func (o *observer) snapshot() observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	obs := observation{
		self:    o.self,
		started: o.started,
		listed:  o.listed,
		asOf:    o.asOf,
		health:  o.health,
		peers:   make([]peer, 0, len(o.peers)),
	}
	for _, p := range o.peers {
		obs.peers = append(obs.peers, *p)
	}
	sort.Slice(obs.peers, func(i, j int) bool { return obs.peers[i].id < obs.peers[j].id })
	return obs
}

// observation is a copy of an observer's state.
type observation struct {
	self    string
	started time.Time
	listed  bool
	asOf    time.Time
	health  health
	peers   []peer
}

// trackDrift notes when each drift item of a view was first seen and
// forgets the ones gone; it returns a copy for the alerter.
func (o *observer) trackDrift(v View, now time.Time) map[string]time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	present := make(map[string]bool, len(v.Drift))
	for _, d := range v.Drift {
		key := d.key()
		present[key] = true
		if _, ok := o.firstSeen[key]; !ok {
			o.firstSeen[key] = now
		}
	}
	out := make(map[string]time.Time, len(present))
	for key, t := range o.firstSeen {
		if !present[key] {
			delete(o.firstSeen, key)
			continue
		}
		out[key] = t
	}
	return out
}
