package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/finding"
)

// Alert events.
const (
	EventDrift             = "fleet_drift"
	EventDriftResolved     = "fleet_drift_resolved"
	EventInstanceStale     = "fleet_instance_stale"
	EventInstanceRecovered = "fleet_instance_recovered"
)

var alertEvents = []string{EventDrift, EventDriftResolved, EventInstanceStale, EventInstanceRecovered}

// Alert is one notification, sent once per fleet by one instance: the
// conditions that started (or ended) in one round, grouped by event.
type Alert struct {
	// ID is unique per alert; a receiver can drop repeats by it.
	ID string `json:"id"`
	// Event is fleet_drift, fleet_drift_resolved, fleet_instance_stale or
	// fleet_instance_recovered.
	Event string `json:"event"`
	// Severity is warning for drift and stale instances, info when they
	// end.
	Severity finding.Severity `json:"severity"`
	Time     time.Time        `json:"time"`
	// SentBy is the ID of the instance that sent the alert.
	SentBy  string      `json:"sent_by"`
	Message string      `json:"message"`
	Items   []AlertItem `json:"items"`
}

// AlertItem is one condition of an alert.
type AlertItem struct {
	// Key identifies the condition: "stale/<instance>" or
	// "drift/<kind>/<subject>".
	Key       string   `json:"key"`
	Kind      string   `json:"kind"`
	Subject   string   `json:"subject,omitempty"`
	Detail    string   `json:"detail"`
	Instances []string `json:"instances,omitempty"`
}

// alertRecord is stored at alertsKey: the conditions alerted and not yet
// recovered, with who alerted each and when. Whoever sends the next
// alert reads it under the storage lock, so a condition is alerted once
// however often the sender changes.
type alertRecord struct {
	Version   int                    `json:"v"`
	UpdatedAt time.Time              `json:"updated_at"`
	UpdatedBy string                 `json:"updated_by"`
	Active    map[string]activeAlert `json:"active"`
}

// activeAlert is one alerted condition.
type activeAlert struct {
	AlertItem
	AlertID   string    `json:"alert_id"`
	AlertedAt time.Time `json:"alerted_at"`
	AlertedBy string    `json:"alerted_by"`
}

// Alerting modes.
const (
	modePending       = "pending"
	modeOncePerFleet  = "once_per_fleet"
	modeReportingOnly = "reporting_only"
)

// lockState is what the lock probe found.
type lockState struct {
	mu     sync.Mutex
	mode   string
	reason string
}

func (l *lockState) get() (mode, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mode == "" {
		return modePending, "checking whether the storage's locks exclude"
	}
	return l.mode, l.reason
}

func (l *lockState) set(mode, reason string) {
	l.mu.Lock()
	l.mode, l.reason = mode, reason
	l.mu.Unlock()
}

// errLockBusy means the probe lock is held, probably by a crashed
// predecessor whose lock has not expired yet: probe again later.
var errLockBusy = errors.New("probe lock is busy")

// probeLocks learns whether the storage's locks exclude: it takes a lock
// of its own and tries to take it again. Alerting once per fleet needs
// that: without it two instances can both find a condition missing from
// the alert record and both send it, with nothing to tell them apart.
// The returned error is a storage failure, to be retried; exclusive=false
// comes with the reason.
func probeLocks(ctx context.Context, st certmagic.Storage, self string, wait time.Duration) (exclusive bool, reason string, err error) {
	name := probeLockPrefix + self
	if ok, err := acquire(ctx, st, name, wait); err != nil {
		return false, "", fmt.Errorf("taking lock %s: %w", name, err)
	} else if !ok {
		return false, "", errLockBusy
	}
	defer func() { _ = st.Unlock(context.WithoutCancel(ctx), name) }()
	again, err := acquire(ctx, st, name, wait)
	if err != nil {
		return false, "", fmt.Errorf("taking lock %s a second time: %w", name, err)
	}
	if again {
		_ = st.Unlock(context.WithoutCancel(ctx), name)
		return false, fmt.Sprintf("the storage (%T) granted the same lock twice, so its locks do not exclude; two instances could both send an alert, so the fleet only reports (view, metrics) and sends no alerts", st), nil
	}
	return true, "", nil
}

// acquire takes a lock without blocking for longer than wait: TryLock
// when the storage has it, otherwise Lock under a deadline (a deadline
// that expires means the lock is held).
func acquire(ctx context.Context, st certmagic.Storage, name string, wait time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var ok bool
	var err error
	if tl, isTry := st.(certmagic.TryLocker); isTry {
		ok, err = tl.TryLock(ctx, name)
	} else {
		err = st.Lock(ctx, name)
		ok = err == nil
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return false, nil // still held when the wait ran out
	}
	return ok, err
}

// conditions returns what should be alerted now: every instance that is
// stale or gone, and every drift item that lasted the grace period (or
// is in the alert record already: a new sender's short memory must not
// resolve it).
func conditions(v View, firstSeen map[string]time.Time, grace time.Duration, now time.Time, recorded map[string]activeAlert) map[string]AlertItem {
	out := make(map[string]AlertItem)
	for _, iv := range v.Instances {
		if iv.State != StateStale && iv.State != StateGone {
			continue
		}
		key := "stale/" + iv.ID
		out[key] = AlertItem{Key: key, Kind: "stale", Subject: iv.ID, Instances: []string{iv.ID},
			Detail: fmt.Sprintf("instance %s (%s) is %s: its record has not changed for %d interval(s)", iv.ID, orUnknown(iv.Hostname), iv.State, iv.MissedIntervals)}
	}
	for _, d := range v.Drift {
		key := d.key()
		_, alerted := recorded[key]
		if first, ok := firstSeen[key]; !alerted && (!ok || now.Sub(first) < grace) {
			continue
		}
		var ids []string
		for _, g := range d.Groups {
			ids = append(ids, g.Instances...)
		}
		slices.Sort(ids)
		out[key] = AlertItem{Key: key, Kind: d.Kind, Subject: d.Subject, Detail: d.describe(), Instances: ids}
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "hostname unknown"
	}
	return s
}

// alerter sends the fleet's alerts when this instance is the chosen one.
type alerter struct {
	self      string
	storage   certmagic.Storage
	notifiers []Notifier
	logger    *zap.Logger
	stats     *stats
	now       func() time.Time
	wait      time.Duration // lock wait
}

// run compares what should be alerted with the alert record and, if they
// differ, takes the lock, reads the record again, sends the difference
// and stores the record. In the steady state it costs one Load.
func (al *alerter) run(ctx context.Context, v View, firstSeen map[string]time.Time, grace time.Duration) error {
	now := al.now()
	rec, err := al.load(ctx)
	if err != nil {
		return err
	}
	if sameKeys(rec.Active, conditions(v, firstSeen, grace, now, rec.Active)) {
		return nil
	}
	ok, err := acquire(ctx, al.storage, alertLock, al.wait)
	al.stats.op("lock", err)
	if err != nil || !ok {
		return err // held by another sender: next round
	}
	defer func() {
		if err := al.storage.Unlock(context.WithoutCancel(ctx), alertLock); err != nil {
			al.logger.Warn("releasing the fleet alert lock", zap.Error(err))
		}
	}()
	if rec, err = al.load(ctx); err != nil {
		return err
	}
	want := conditions(v, firstSeen, grace, now, rec.Active)
	started, ended := map[string][]AlertItem{}, map[string][]AlertItem{}
	for _, key := range slices.Sorted(maps.Keys(want)) {
		if _, ok := rec.Active[key]; !ok {
			ev := EventDrift
			if want[key].Kind == "stale" {
				ev = EventInstanceStale
			}
			started[ev] = append(started[ev], want[key])
		}
	}
	for _, key := range slices.Sorted(maps.Keys(rec.Active)) {
		if _, ok := want[key]; ok {
			continue
		}
		item := rec.Active[key].AlertItem
		ev := EventDriftResolved
		if item.Kind == "stale" {
			ev = EventInstanceRecovered
			item.Detail = recovery(v, item.Subject)
		}
		ended[ev] = append(ended[ev], item)
	}

	for _, ev := range alertEvents {
		items := append(started[ev], ended[ev]...)
		if len(items) == 0 {
			continue
		}
		alert := al.newAlert(ev, items, now)
		al.send(ctx, alert)
		for _, it := range started[ev] {
			rec.Active[it.Key] = activeAlert{AlertItem: it, AlertID: alert.ID, AlertedAt: now, AlertedBy: al.self}
		}
		for _, it := range ended[ev] {
			delete(rec.Active, it.Key)
		}
	}
	rec.Version, rec.UpdatedAt, rec.UpdatedBy = recordVersion, now.UTC(), al.self
	body, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	err = al.storage.Store(ctx, alertsKey, body)
	al.stats.op("store", err)
	if err != nil {
		return fmt.Errorf("storing the alert record (the alerts just sent may be sent again): %w", err)
	}
	return nil
}

// recovery says how a stale instance's condition ended.
func recovery(v View, id string) string {
	for _, iv := range v.Instances {
		if iv.ID == id {
			if iv.State == StateLeft {
				return fmt.Sprintf("instance %s (%s) stopped and left the fleet", id, orUnknown(iv.Hostname))
			}
			return fmt.Sprintf("instance %s (%s) is alive again", id, orUnknown(iv.Hostname))
		}
	}
	return fmt.Sprintf("instance %s's record was removed from the storage (forgotten after forget_after, or deleted by hand)", id)
}

// load reads the alert record; a missing one is empty.
func (al *alerter) load(ctx context.Context) (alertRecord, error) {
	rec := alertRecord{Active: map[string]activeAlert{}}
	body, err := al.storage.Load(ctx, alertsKey)
	if errors.Is(err, fs.ErrNotExist) {
		al.stats.op("load", nil)
		return rec, nil
	}
	al.stats.op("load", err)
	if err != nil {
		return rec, fmt.Errorf("loading the alert record: %w", err)
	}
	if err := json.Unmarshal(body, &rec); err != nil || rec.Version != recordVersion {
		// A damaged record or one of another version: start afresh rather
		// than never alert again; conditions still active are re-sent.
		al.logger.Warn("the fleet alert record is unreadable; starting a new one", zap.String("key", alertsKey), zap.Int("version", rec.Version), zap.Error(err))
		return alertRecord{Active: map[string]activeAlert{}}, nil
	}
	if rec.Active == nil {
		rec.Active = map[string]activeAlert{}
	}
	return rec, nil
}

func (al *alerter) newAlert(event string, items []AlertItem, now time.Time) Alert {
	sev := finding.Warning
	if event == EventDriftResolved || event == EventInstanceRecovered {
		sev = finding.Info
	}
	texts := make([]string, len(items))
	for i, it := range items {
		texts[i] = it.Detail
	}
	return Alert{
		ID:       uuid.NewString(),
		Event:    event,
		Severity: sev,
		Time:     now.UTC(),
		SentBy:   al.self,
		Message:  strings.Join(texts, "; "),
		Items:    items,
	}
}

// send hands an alert to every notifier; a failing one is logged and
// does not stop the others.
func (al *alerter) send(ctx context.Context, alert Alert) {
	al.stats.alert(alert.Event)
	for _, n := range al.notifiers {
		if err := n.Notify(ctx, alert); err != nil {
			al.logger.Error("fleet alert delivery failed", zap.String("event", alert.Event), zap.String("alert_id", alert.ID), zap.Error(err))
		}
	}
}

func sameKeys(a map[string]activeAlert, b map[string]AlertItem) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}
