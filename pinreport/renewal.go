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

// nameStatus is the renewal status of some identifiers, as told by
// cert_obtained and cert_failed events.
type nameStatus struct {
	lastObtained time.Time
	lastFailure  time.Time // of the current failure streak; zero when none
	lastError    string
	failures     int // consecutive, since the last success
}

// renewalLog is the renewal status of every identifier certmagic told
// about. Events are not repeated after a reload, so it lives in the state
// shared across configs. An on-demand server obtains a certificate for
// every name it serves, so the common case is kept small: a time per
// identifier, and the failures apart.
type renewalLog struct {
	mu           sync.RWMutex
	lastObtained map[string]int64    // identifier → last success, Unix nanoseconds
	failing      map[string]*failure // identifiers whose last attempts failed
}

// failure is a streak of failed attempts for one identifier.
type failure struct {
	at     time.Time
	err    string
	streak int
}

func newRenewalLog() *renewalLog {
	return &renewalLog{lastObtained: make(map[string]int64), failing: make(map[string]*failure)}
}

// obtained records a certificate obtained (or renewed) for id at t; it
// ends a failure streak.
func (l *renewalLog) obtained(id string, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastObtained[id] = t.UnixNano()
	delete(l.failing, id)
}

// failed records a failed attempt for id at t and returns how many
// attempts in a row have failed.
func (l *renewalLog) failed(id, errText string, t time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.failing[id]
	if f == nil {
		f = new(failure)
		l.failing[id] = f
	}
	f.at, f.err = t, errText
	f.streak++
	return f.streak
}

// status returns the renewal status of the identifiers among names,
// merged: the latest success and the latest failure streak.
func (l *renewalLog) status(names []string) nameStatus {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out nameStatus
	for _, n := range names {
		if at, ok := l.lastObtained[n]; ok {
			if t := time.Unix(0, at); t.After(out.lastObtained) {
				out.lastObtained = t
			}
		}
		if f := l.failing[n]; f != nil && f.at.After(out.lastFailure) {
			out.lastFailure, out.lastError, out.failures = f.at, f.err, f.streak
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
		if l.failing[n] == nil {
			delete(l.lastObtained, n)
		}
	}
}
