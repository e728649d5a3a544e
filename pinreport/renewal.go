package pinreport

import (
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
)

// renewalRatio returns the renewal window ratio of the automation policy
// that manages names (certmagic's default when none sets one).
func renewalRatio(policies []*caddytls.AutomationPolicy, names []string) float64 {
	var catchAll float64
	for _, ap := range policies {
		subjects := ap.Subjects()
		if len(subjects) == 0 {
			if catchAll == 0 {
				catchAll = ap.RenewalWindowRatio
			}
			continue
		}
		for _, s := range subjects {
			for _, n := range names {
				if s == n || certmagic.MatchWildcard(n, s) {
					return orDefaultRatio(ap.RenewalWindowRatio)
				}
			}
		}
	}
	return orDefaultRatio(catchAll)
}

func orDefaultRatio(r float64) float64 {
	if r <= 0 || r >= 1 {
		return certmagic.DefaultRenewalWindowRatio
	}
	return r
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

// renewalLog is the renewal status of every identifier certmagic told
// about. Events are not repeated after a reload, so it lives in the state
// shared across configs.
type renewalLog struct {
	mu    sync.RWMutex
	names map[string]*nameStatus // by certmagic identifier
}

func newRenewalLog() *renewalLog {
	return &renewalLog{names: make(map[string]*nameStatus)}
}

// statusLocked returns the status of id, creating it; the caller holds
// mu.
func (l *renewalLog) statusLocked(id string) *nameStatus {
	st, ok := l.names[id]
	if !ok {
		st = new(nameStatus)
		l.names[id] = st
	}
	return st
}

// obtained records a certificate obtained (or renewed) for id at t, by
// issuer; it ends a failure streak.
func (l *renewalLog) obtained(id, issuer string, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.statusLocked(id)
	st.lastObtained, st.issuerKey, st.failures = t, issuer, 0
}

// failed records a failed attempt for id at t and returns how many
// attempts in a row have failed.
func (l *renewalLog) failed(id, errText string, t time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.statusLocked(id)
	st.lastFailure, st.lastError = t, errText
	st.failures++
	return st.failures
}

// status returns a copy of the renewal status of the identifiers among
// names, merged: the latest success and the latest failure.
func (l *renewalLog) status(names []string) nameStatus {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out nameStatus
	for _, n := range names {
		st, ok := l.names[n]
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

// forget drops the status of names whose certificates left the cache,
// unless it records a failure, so that the state of an on-demand server
// does not grow without bound.
func (l *renewalLog) forget(names []string) {
	if len(names) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range names {
		if st, ok := l.names[n]; ok && st.failures == 0 {
			delete(l.names, n)
		}
	}
}
