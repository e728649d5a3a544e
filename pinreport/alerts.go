package pinreport

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/internal/finding"
	"github.com/hardtls/caddy-hardtls/internal/strictjson"
)

// level is how close to expiry a certificate is, worst last.
type level uint8

const (
	levelOK level = iota
	levelWarning
	levelCritical
	levelExpired
	numLevels
)

// levelNames are the state names used in the report and the metrics.
var levelNames = [numLevels]string{"ok", "warning", "critical", "expired"}

// String returns the state name used in the report and the metrics.
func (l level) String() string { return levelNames[l] }

// Severity ranks alerts on the scale every hardtls module reports with;
// the webhook sends those at or above its min_severity.
type Severity = finding.Severity

// The severities of pinreport's alerts, lowest first.
const (
	SeverityInfo     = finding.Info
	SeverityWarning  = finding.Warning
	SeverityCritical = finding.Critical
)

// alertSeverities are the severities alerts have, lowest first; pinreport
// raises no error-level alert.
var alertSeverities = [...]Severity{SeverityInfo, SeverityWarning, SeverityCritical}

// parseSeverity reads a min_severity: one of alertSeverities.
func parseSeverity(s string) (Severity, error) {
	sev, err := finding.Parse(s)
	if err != nil || !slices.Contains(alertSeverities[:], sev) {
		return 0, &strictjson.FieldError{Field: "min_severity", Value: strconv.Quote(s), Why: "is not a severity", Fix: "use info, warning or critical"}
	}
	return sev, nil
}

// Alert events.
const (
	EventRenewalOverdue    = "renewal_overdue" // past its renewal point, not renewed
	EventExpiryWarning     = "expiry_warning"  // under the configured warning_before
	EventExpiryCritical    = "expiry_critical" // close to expiry
	EventExpired           = "expired"
	EventRenewalFailed     = "renewal_failed"
	EventObtainFailed      = "obtain_failed"
	EventRevoked           = "revoked"            // by a CRL, a stapled OCSP response or certmagic's OCSP check
	EventRevocationUnknown = "revocation_unknown" // the CRL or staple gives no trustworthy answer
	EventPinChanged        = "pin_changed"
	EventPinMismatch       = "pin_mismatch"
	EventRenewed           = "renewed" // a newer certificate replaced one with the same names
)

// Alert is one notification: a log line and, with a webhook, the JSON
// body POSTed to it. It never holds key material: pins and fingerprints
// are digests of public data.
type Alert struct {
	// ID is unique per alert and stays the same across webhook retries.
	ID string `json:"id"`
	// Event is one of renewed (info), renewal_overdue, expiry_warning,
	// expiry_critical, expired, renewal_failed, obtain_failed, revoked,
	// revocation_unknown, pin_changed and pin_mismatch.
	Event    string    `json:"event"`
	Severity Severity  `json:"severity"`
	Time     time.Time `json:"time"`
	Message  string    `json:"message"`
	// Identifier is the name certmagic obtains or renews a certificate for.
	Identifier string `json:"identifier,omitempty"`
	// Detail says why the alert fired, e.g. which threshold was crossed.
	Detail string `json:"detail,omitempty"`
	// Error is the error of a failed renewal or obtain.
	Error string `json:"error,omitempty"`
	// Host is the expected-pins host pattern that did not match.
	Host         string   `json:"host,omitempty"`
	ExpectedPins []string `json:"expected_pins,omitempty"`
	// OldPin and NewPin are the leaf pins before and after a renewal.
	OldPin string `json:"old_pin,omitempty"`
	NewPin string `json:"new_pin,omitempty"`
	// RevocationSource says what found a certificate revoked: crl,
	// ocsp_staple (the OCSP response Caddy staples) or ocsp (certmagic's
	// own OCSP check). CRL is the CRL's URL.
	RevocationSource string     `json:"revocation_source,omitempty"`
	CRL              string     `json:"crl,omitempty"`
	RevokedAt        *time.Time `json:"revoked_at,omitempty"`
	// RevocationReason is the RFC 5280 §5.3.1 reason, e.g. keyCompromise.
	RevocationReason string `json:"revocation_reason,omitempty"`
	// Fix says what to do about it.
	Fix string `json:"fix,omitempty"`

	Certificate *AlertCertificate `json:"certificate,omitempty"`
}

// AlertCertificate is the certificate an alert is about, in the shape
// every hardtls report gives a certificate.
type AlertCertificate = certs.Summary

// newAlert starts an alert with a fresh ID.
func newAlert(event string, sev Severity, now time.Time, msg string) Alert {
	return Alert{ID: uuid.NewString(), Event: event, Severity: sev, Time: now, Message: msg}
}

// alertCertificate describes a certificate for an alert.
func alertCertificate(f *certs.Facts, now time.Time) *AlertCertificate {
	s := f.Summary(now)
	return &s
}

// thresholds decide a certificate's level. A zero duration means the
// lifetime-based default.
type thresholds struct {
	warningBefore  time.Duration
	criticalBefore time.Duration
	grace          time.Duration
}

// criticalWindow is how long before expiry a certificate is critical by
// default: a tenth of its lifetime, but for short-lived certificates (a
// tenth is under a day for lifetimes under 10 days) up to 24 h, never
// more than a fifth of the lifetime, so that it stays after the renewal
// point (a third of the lifetime before expiry).
func criticalWindow(lifetime time.Duration) time.Duration {
	return max(lifetime/10, min(24*time.Hour, lifetime/5))
}

// defaultGrace is how long after its renewal point a certificate may stay
// unrenewed before it is overdue: certmagic checks every 10 minutes and
// an order takes a while. A twentieth of the lifetime, at most an hour.
func defaultGrace(lifetime time.Duration) time.Duration {
	return min(time.Hour, lifetime/20)
}

// level returns the level of e at now and why.
func (t thresholds) level(e *entry, now time.Time) (level, string) {
	lvl := t.levelAt(e, now)
	return lvl, t.why(e, lvl)
}

// levelAt returns the level of e at now.
func (t thresholds) levelAt(e *entry, now time.Time) level {
	return t.levelOf(e.Leaf.NotBefore, e.Leaf.NotAfter, e.renewAt, now)
}

// levelOf returns the level at now of a certificate valid from notBefore
// to notAfter that is expected to be renewed at renewAt.
func (t thresholds) levelOf(notBefore, notAfter, renewAt, now time.Time) level {
	remaining := notAfter.Sub(now)
	lifetime := notAfter.Sub(notBefore)
	switch {
	case !now.Before(notAfter):
		return levelExpired
	case t.criticalBefore > 0 && remaining < t.criticalBefore,
		t.criticalBefore <= 0 && remaining < criticalWindow(lifetime):
		return levelCritical
	case t.warningBefore > 0:
		if remaining < t.warningBefore {
			return levelWarning
		}
		return levelOK
	case now.After(renewAt.Add(t.graceFor(lifetime))):
		return levelWarning
	}
	return levelOK
}

// why says why e is at lvl.
func (t thresholds) why(e *entry, lvl level) string {
	lifetime := e.Lifetime()
	switch lvl {
	case levelExpired:
		return "certificate has expired"
	case levelCritical:
		if t.criticalBefore > 0 {
			return fmt.Sprintf("less than critical_before (%s) remains", t.criticalBefore)
		}
		return fmt.Sprintf("less than %s of its %s lifetime remains", criticalWindow(lifetime), lifetime.Round(time.Second))
	case levelWarning:
		if t.warningBefore > 0 {
			return fmt.Sprintf("less than warning_before (%s) remains", t.warningBefore)
		}
		return fmt.Sprintf("past its renewal point (%s) by more than %s without a renewal", e.renewAt.UTC().Format(time.RFC3339), t.graceFor(lifetime))
	}
	return ""
}

// graceFor is the renewal grace of a certificate with the given lifetime.
func (t thresholds) graceFor(lifetime time.Duration) time.Duration {
	if t.grace > 0 {
		return t.grace
	}
	return defaultGrace(lifetime)
}

// nextChange returns the first instant after now at which the level of
// e rises, or the zero time when it never will (it has expired). Each
// threshold is the first instant its condition holds: level compares
// strictly, so that is one nanosecond past the boundary.
func (t thresholds) nextChange(e *entry, now time.Time) time.Time {
	notAfter := e.Leaf.NotAfter
	lifetime := e.Lifetime()
	warn := e.renewAt.Add(t.graceFor(lifetime) + 1)
	if t.warningBefore > 0 {
		warn = notAfter.Add(-t.warningBefore + 1)
	}
	crit := notAfter.Add(-criticalWindow(lifetime) + 1)
	if t.criticalBefore > 0 {
		crit = notAfter.Add(-t.criticalBefore + 1)
	}
	cur := t.levelAt(e, now)
	var next time.Time
	for _, at := range [...]time.Time{warn, crit, notAfter} {
		if !at.After(now) || (!next.IsZero() && !at.Before(next)) {
			continue
		}
		if t.levelAt(e, at) > cur {
			next = at
		}
	}
	return next
}

// expiryAlert builds the alert for a certificate reaching lvl.
func (t thresholds) expiryAlert(e *entry, lvl level, why string, now time.Time) Alert {
	var al Alert
	switch lvl {
	case levelExpired:
		al = newAlert(EventExpired, SeverityCritical, now, "certificate expired")
	case levelCritical:
		al = newAlert(EventExpiryCritical, SeverityCritical, now, "certificate expiring")
	default:
		event, msg := EventRenewalOverdue, "renewal overdue"
		if t.warningBefore > 0 {
			event, msg = EventExpiryWarning, "certificate expiring soon"
		}
		al = newAlert(event, SeverityWarning, now, msg)
	}
	al.Detail = why
	al.Certificate = alertCertificate(&e.Facts, now)
	return al
}

// logAlert writes an alert as one log line, at a level matching its
// severity.
func logAlert(logger *zap.Logger, al Alert) {
	lvl := zapcore.InfoLevel
	switch al.Severity {
	case SeverityWarning:
		lvl = zapcore.WarnLevel
	case SeverityCritical:
		lvl = zapcore.ErrorLevel
	}
	ce := logger.Check(lvl, al.Message)
	if ce == nil {
		return
	}
	fields := []zap.Field{
		zap.String("event", al.Event),
		zap.Stringer("severity", al.Severity),
		zap.String("alert_id", al.ID),
	}
	if al.Identifier != "" {
		fields = append(fields, zap.String("identifier", al.Identifier))
	}
	if al.Certificate != nil {
		c := al.Certificate
		fields = append(fields,
			zap.Strings("names", c.Names),
			zap.String("issuer_kind", c.IssuerKind),
			zap.String("serial", c.Serial),
			zap.Time("not_after", c.NotAfter),
			zap.Int64("remaining_seconds", c.RemainingSeconds))
	}
	if al.Host != "" {
		fields = append(fields, zap.String("host", al.Host), zap.Strings("expected_pins", al.ExpectedPins))
	}
	if al.OldPin != "" || al.NewPin != "" {
		fields = append(fields, zap.String("old_pin", al.OldPin), zap.String("new_pin", al.NewPin))
	}
	if al.RevocationSource != "" {
		fields = append(fields, zap.String("revocation_source", al.RevocationSource), zap.String("revocation_reason", al.RevocationReason))
		if al.CRL != "" {
			fields = append(fields, zap.String("crl", al.CRL))
		}
		if al.RevokedAt != nil {
			fields = append(fields, zap.Time("revoked_at", *al.RevokedAt))
		}
	}
	if al.Detail != "" {
		fields = append(fields, zap.String("detail", al.Detail))
	}
	if al.Fix != "" {
		fields = append(fields, zap.String("fix", al.Fix))
	}
	if al.Error != "" {
		fields = append(fields, zap.String("error", al.Error))
	}
	ce.Write(fields...)
}
