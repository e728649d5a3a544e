package pinreport

import (
	"crypto/x509"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

// synthetic returns an entry valid from nb for lifetime, renewing at the
// default third.
func synthetic(nb time.Time, lifetime time.Duration) *entry {
	leaf := &x509.Certificate{NotBefore: nb, NotAfter: nb.Add(lifetime)}
	return &entry{Facts: certs.Facts{Leaf: leaf, Names: []string{"a.example"}}, renewAt: renewalPoint(leaf.NotBefore, leaf.NotAfter, 0)}
}

func TestCriticalWindow(t *testing.T) {
	day := 24 * time.Hour
	for _, tc := range []struct {
		lifetime, want time.Duration
	}{
		{90 * day, 9 * day},       // a tenth
		{47 * day, 47 * day / 10}, // a tenth
		{10 * day, day},           // a tenth is a day
		{6 * day, day},            // short: 24 h
		{2 * day, 2 * day / 5},    // short: at most a fifth, after the renewal point
		{time.Minute, 12 * time.Second},
	} {
		if got := criticalWindow(tc.lifetime); got != tc.want {
			t.Errorf("lifetime %s: critical window %s, want %s", tc.lifetime, got, tc.want)
		}
		if w := criticalWindow(tc.lifetime); w >= tc.lifetime/3 {
			t.Errorf("lifetime %s: critical window %s reaches the renewal point", tc.lifetime, w)
		}
	}
}

func TestLevels(t *testing.T) {
	day := 24 * time.Hour
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		lifetime time.Duration
		th       thresholds
		at       time.Duration // after notBefore
		want     level
	}{
		{"90d fresh", 90 * day, thresholds{}, time.Hour, levelOK},
		{"90d at renewal point", 90 * day, thresholds{}, 60 * day, levelOK},
		{"90d within grace", 90 * day, thresholds{}, 60*day + 59*time.Minute, levelOK},
		{"90d overdue", 90 * day, thresholds{}, 60*day + 61*time.Minute, levelWarning},
		{"90d custom grace", 90 * day, thresholds{grace: 2 * day}, 61 * day, levelOK},
		{"90d critical", 90 * day, thresholds{}, 81*day + time.Minute, levelCritical},
		{"90d expired", 90 * day, thresholds{}, 90 * day, levelExpired},
		{"6d overdue", 6 * day, thresholds{}, 4*day + 2*time.Hour, levelWarning},
		{"6d critical at 24h", 6 * day, thresholds{}, 5*day + time.Minute, levelCritical},
		{"60s overdue", time.Minute, thresholds{}, 44 * time.Second, levelWarning},
		{"60s critical", time.Minute, thresholds{}, 49 * time.Second, levelCritical},
		{"absolute ok", 90 * day, thresholds{warningBefore: 14 * day, criticalBefore: 3 * day}, 70 * day, levelOK},
		{"absolute warning", 90 * day, thresholds{warningBefore: 14 * day, criticalBefore: 3 * day}, 77 * day, levelWarning},
		{"absolute critical", 90 * day, thresholds{warningBefore: 14 * day, criticalBefore: 3 * day}, 88 * day, levelCritical},
		{"critical only absolute", 90 * day, thresholds{criticalBefore: 3 * day}, 82 * day, levelWarning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := synthetic(nb, tc.lifetime)
			got, why := tc.th.level(e, nb.Add(tc.at))
			if got != tc.want {
				t.Errorf("level %s (%s), want %s", got, why, tc.want)
			}
			if (got == levelOK) != (why == "") {
				t.Errorf("level %s with reason %q: a reason is wanted exactly when not ok", got, why)
			}
		})
	}
}

func TestExpiryAlertEvents(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := synthetic(nb, 90*24*time.Hour)
	now := nb.Add(time.Hour)
	for _, tc := range []struct {
		th    thresholds
		lvl   level
		event string
		sev   Severity
	}{
		{thresholds{}, levelWarning, EventRenewalOverdue, SeverityWarning},
		{thresholds{warningBefore: time.Hour}, levelWarning, EventExpiryWarning, SeverityWarning},
		{thresholds{}, levelCritical, EventExpiryCritical, SeverityCritical},
		{thresholds{}, levelExpired, EventExpired, SeverityCritical},
	} {
		al := tc.th.expiryAlert(e, tc.lvl, "why", now)
		if al.Event != tc.event || al.Severity != tc.sev || al.Detail != "why" || al.ID == "" {
			t.Errorf("level %s: alert %+v; want event %s, severity %s", tc.lvl, al, tc.event, tc.sev)
		}
	}
}

func TestParseSeverity(t *testing.T) {
	for _, s := range []string{"info", "warning", "critical"} {
		sev, err := parseSeverity(s)
		if err != nil || sev.String() != s {
			t.Errorf("parseSeverity(%q) = %v, %v", s, sev, err)
		}
	}
	if _, err := parseSeverity("loud"); err == nil {
		t.Error("parseSeverity accepted loud")
	}
}

func TestLogAlertLevels(t *testing.T) {
	core, logs := observer.New(zap.DebugLevel)
	logger := zap.New(core)
	now := time.Now()
	for sev, want := range map[Severity]zapcore.Level{
		SeverityInfo: zapcore.InfoLevel, SeverityWarning: zapcore.WarnLevel, SeverityCritical: zapcore.ErrorLevel,
	} {
		al := newAlert(EventPinChanged, sev, now, "certificate key changed")
		al.OldPin, al.NewPin = "old", "new"
		logAlert(logger, al)
		entries := logs.TakeAll()
		if len(entries) != 1 || entries[0].Level != want {
			t.Fatalf("severity %s: logged %v; want one line at %s", sev, entries, want)
		}
		fields := entries[0].ContextMap()
		if fields["event"] != EventPinChanged || fields["old_pin"] != "old" || fields["new_pin"] != "new" || fields["alert_id"] != al.ID {
			t.Errorf("fields %v", fields)
		}
	}
}
