package pinreport

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/internal/strictjson"
)

func init() {
	caddy.RegisterModule(App{})
}

// App keeps an inventory of every certificate Caddy serves (ACME,
// internal CA, manually loaded, on-demand once cached) with its pins, TLSA
// records, expiry and renewal status; raises alerts (logs, and a webhook
// if configured) for renewal failures, certificates past their renewal
// point or close to expiry, key changes and expected-pin mismatches; and
// exposes the inventory as Prometheus metrics and on the admin API under
// /pinreport/.
//
// The inventory is reconciled in full with Caddy's certificate cache, the
// source of truth, at start and every scan_interval: events alone cannot
// build it, since a reload does not re-announce cached certificates.
// Between reconciles, certificate events keep it current, each at the
// cost of looking up the few names it announces, and expiry levels change
// on a schedule: no work is done per certificate. The app subscribes its
// event handler (events.handlers.pinreport) to the tls events itself.
type App struct {
	// ScanInterval is how often the inventory is reconciled in full with
	// the certificate cache, a safety net for what no event announces
	// (a certificate evicted from the cache, or renewed by another
	// instance sharing the storage, is also caught by a lookup before
	// its level rises). Certificate events keep the inventory current
	// in between, and expiry levels are checked when they change, not
	// on each reconcile. A reconcile looks up every name, about 2 µs
	// each. Default: 1h.
	ScanInterval caddy.Duration `json:"scan_interval,omitempty"`

	// Pins maps a host to the SPKI pins its clients expect, in OkHttp's
	// semantics: a served chain passes when any of its certificates
	// matches any pin. Hosts may be written *.example.com (one label) or
	// **.example.com (any labels). Pins are base64 SHA-256 digests of a
	// SubjectPublicKeyInfo, optionally prefixed "sha256/". A host whose
	// served chain matches none of its pins raises a pin_mismatch alert;
	// a host with a single pin gets a warning, since pinning one key
	// without a backup locks clients out at the next key change.
	// Default: none.
	Pins map[string][]string `json:"pins,omitempty"`

	// WarningBefore replaces the default warning, "renewal overdue" (past
	// the renewal point plus renewal_grace without a renewal), with a
	// fixed time before expiry. Default: none (lifetime-based).
	WarningBefore caddy.Duration `json:"warning_before,omitempty"`

	// CriticalBefore replaces the default critical threshold, a tenth of
	// the lifetime before expiry (up to 24 h, at most a fifth of the
	// lifetime, for certificates shorter than 10 days), with a fixed time
	// before expiry. Default: none (lifetime-based).
	CriticalBefore caddy.Duration `json:"critical_before,omitempty"`

	// RenewalGrace is how long after its renewal point a certificate may
	// stay unrenewed before it is overdue. Default: a twentieth of the
	// lifetime, at most 1h.
	RenewalGrace caddy.Duration `json:"renewal_grace,omitempty"`

	// Webhook, when set, receives every alert of at least its
	// min_severity as a JSON POST. Default: none (alerts are logged).
	Webhook *Webhook `json:"webhook,omitempty"`

	// CertificateMetrics chooses which certificates get series of their
	// own (pinreport_certificate_not_after_timestamp_seconds and
	// not_before): all, warning (those in state warning, critical or
	// expired: the ones an alert is about, a few series however many
	// certificates there are) or none. The counts by state are exported
	// whatever the choice. Default: all.
	CertificateMetrics string `json:"certificate_metrics,omitempty"`

	// Revocation configures the checks of served certificates against
	// the CRLs they name (and their stapled OCSP responses): a revoked
	// certificate raises a critical revoked alert, a CRL that gives no
	// trustworthy answer a revocation_unknown warning. Default: checks
	// every hour.
	Revocation *Revocation `json:"revocation,omitempty"`

	ctx        caddy.Context
	logger     *zap.Logger
	now        func() time.Time
	lookup     func(name string) []certmagic.Certificate // nil: Caddy's certificate cache
	extraNames []string                                  // sorted; looked up at each reconcile besides the config's (tests)
	buildEntry builder                                   // nil: classified with the config's CAs and storage (tests)
	storage    certmagic.Storage
	httpApp    *caddyhttp.App // the config's, once it has started; nil if none
	tlsApp     *caddytls.TLS  // likewise
	client     *http.Client
	state      *state
	rules      pinRules
	thresholds thresholds
	policy     *policy
	minSeries  level // the lowest level with per-certificate series; numLevels for none
	sink       *sink
	revocation *revocationMonitor // nil when the checks are off
	cancel     context.CancelFunc
	wg         *sync.WaitGroup
}

// Defaults and limits of the app's durations.
const (
	defaultScanInterval = time.Hour
	minScanInterval     = time.Second
)

// Values of certificate_metrics.
const (
	CertificateMetricsAll     = "all"
	CertificateMetricsWarning = "warning"
	CertificateMetricsNone    = "none"
)

// CheckCertificateMetrics reports whether s is a value of
// certificate_metrics: all, warning or none.
func CheckCertificateMetrics(s string) error {
	_, err := parseCertificateMetrics(s)
	return err
}

// parseCertificateMetrics returns the lowest level whose certificates get
// series of their own (numLevels for none).
func parseCertificateMetrics(s string) (level, error) {
	switch s {
	case "", CertificateMetricsAll:
		return levelOK, nil
	case CertificateMetricsWarning:
		return levelWarning, nil
	case CertificateMetricsNone:
		return numLevels, nil
	}
	return 0, &strictjson.FieldError{Field: "certificate_metrics", Value: strconv.Quote(s), Why: "is not all, warning or none",
		Fix: "use all (a series per certificate), warning (only certificates in warning, critical or expired) or none"}
}

// subscribedEvents are the certmagic events (emitted through the tls
// app) that the app's handler receives.
var subscribedEvents = []string{
	"cert_obtained", "cert_failed", "cert_ocsp_revoked",
	"cached_managed_cert", "cached_unmanaged_cert",
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "pinreport",
		New: func() caddy.Module { return new(App) },
	}
}

// UnmarshalJSON decodes the config like Caddy does, naming the field of a
// value that does not decode (a bad scan_interval says so).
func (a *App) UnmarshalJSON(b []byte) error {
	type plain App
	return strictjson.Decode(b, (*plain)(a))
}

// Provision sets up the app: it parses the expected pins, takes the state
// shared with earlier configs, registers the metrics and subscribes the
// event handler. It logs nothing: a config refused later would leave
// misleading lines; Start logs.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx = ctx
	a.logger = ctx.Logger()
	if a.now == nil {
		a.now = time.Now
	}
	if a.storage == nil {
		a.storage = ctx.Storage()
	}
	if a.ScanInterval == 0 {
		a.ScanInterval = caddy.Duration(defaultScanInterval)
	}
	var err error
	if a.rules, err = compilePins(a.Pins); err != nil {
		return err
	}
	a.thresholds = thresholds{
		warningBefore:  time.Duration(a.WarningBefore),
		criticalBefore: time.Duration(a.CriticalBefore),
		grace:          time.Duration(a.RenewalGrace),
	}
	if a.Webhook != nil {
		if err := a.Webhook.provision(); err != nil {
			return strictjson.Within("webhook", err)
		}
	}
	if a.minSeries, err = parseCertificateMetrics(a.CertificateMetrics); err != nil {
		return err
	}
	if a.Revocation == nil {
		a.Revocation = new(Revocation)
	}
	if err := a.Revocation.provision(); err != nil {
		return strictjson.Within("revocation", err)
	}
	if !a.Revocation.Disabled {
		a.revocation = newRevocationMonitor(a.Revocation, a.now)
	}

	st, _, err := states.LoadOrNew(stateKey, func() (caddy.Destructor, error) { return newState(), nil })
	if err != nil {
		return err
	}
	a.state = st.(*state)
	a.policy = a.state.newPolicy(a.thresholds, a.rules)
	a.wg = new(sync.WaitGroup)
	if a.Webhook != nil {
		a.sink = newSink(a.Webhook, a.client, a.state.counts, a.logger.Named("webhook"))
	}

	if err := ctx.GetMetricsRegistry().Register(newCollector(a.state.inv, a.state.counts, a.minSeries, a.revocation)); err != nil {
		return fmt.Errorf("registering metrics: %v", err)
	}

	eventsApp, err := ctx.App("events")
	if err != nil {
		return fmt.Errorf("getting events app: %v", err)
	}
	err = eventsApp.(*caddyevents.App).Subscribe(&caddyevents.Subscription{
		Events:   subscribedEvents,
		Modules:  []caddy.ModuleID{"tls"},
		Handlers: []caddyevents.Handler{&EventHandler{app: a}},
	})
	if err != nil {
		return fmt.Errorf("subscribing to certificate events: %v", err)
	}
	// Manually loaded certificates are announced while the tls app
	// provisions; if it has not yet, let it do so now, subscribed. If it
	// fails, the config fails with it: Caddy keeps the tls app's error
	// and reports it when its loop over the apps reaches that app, as
	// when it loads the tls app first, without "loading pinreport app
	// module" in front of an error that is not pinreport's.
	_, _ = ctx.AppIfConfigured("tls")
	return nil
}

// Start logs the warnings about the config (only a config that passed
// validation gets here) and starts the inventory's loop and the webhook
// sender.
func (a *App) Start() error {
	for _, rule := range a.rules {
		if len(rule.pins) == 1 {
			// Pinning one key without a backup locks clients out at the
			// next key change (RFC 7469 section 4.3).
			a.logger.Warn("expected pins without a backup",
				zap.String("host", rule.pattern),
				zap.String("pin", rule.pins[0].String()),
				zap.String("fix", "add a second pin: the pin of a spare key kept offline, or of the issuer "+
					"(see GET /pinreport/"+rule.pattern+"?format=okhttp); a leaf pin alone also needs "+
					"reuse_private_keys, since every renewal changes the leaf key otherwise"))
		}
	}
	// Every app of the config is provisioned by now.
	var err error
	if a.httpApp, a.tlsApp, err = certs.Apps(a.ctx); err != nil {
		a.logger.Error("reading the config's sites", zap.Error(err))
	}
	ctx, cancel := context.WithCancel(a.ctx)
	a.cancel = cancel
	a.wg.Go(func() { a.run(ctx) })
	if a.sink != nil {
		a.wg.Go(func() { a.sink.run(ctx) })
	}
	if a.revocation != nil {
		a.wg.Go(func() { a.runRevocationChecks(ctx) })
	}
	return nil
}

// Validate ensures the durations are in range and the webhook is usable.
func (a *App) Validate() error {
	if iv := time.Duration(a.ScanInterval); iv < minScanInterval {
		return &strictjson.FieldError{Field: "scan_interval", Value: strictjson.DurationValue(iv), Why: "is too short",
			Fix: fmt.Sprintf("use %s or more, e.g. 1h (the default)", minScanInterval)}
	}
	for _, d := range []struct {
		field string
		v     caddy.Duration
	}{{"warning_before", a.WarningBefore}, {"critical_before", a.CriticalBefore}, {"renewal_grace", a.RenewalGrace}} {
		if d.v < 0 {
			return &strictjson.FieldError{Field: d.field, Value: strictjson.DurationValue(d.v), Why: "is negative",
				Fix: "use a positive duration such as 72h, or leave it out for the default"}
		}
	}
	if a.WarningBefore > 0 && a.CriticalBefore >= a.WarningBefore {
		return &strictjson.FieldError{Field: "critical_before", Value: strictjson.DurationValue(a.CriticalBefore),
			Why: fmt.Sprintf("is not shorter than warning_before (%s): the critical alert must come after the warning", time.Duration(a.WarningBefore)),
			Fix: "e.g. warning_before 14d, critical_before 3d"}
	}
	if a.Webhook != nil {
		if err := a.Webhook.validate(); err != nil {
			return strictjson.Within("webhook", err)
		}
	}
	if err := a.Revocation.validateIfSet(); err != nil {
		return strictjson.Within("revocation", err)
	}
	return nil
}

// Stop stops the inventory's loop and the webhook sender; alerts still
// queued are dropped.
func (a *App) Stop() error {
	if a.cancel != nil {
		a.cancel()
		a.wg.Wait()
	}
	return nil
}

// Cleanup releases the shared state and the CRL checker's connections. A
// config that stops may take certificates out of the cache without events
// (its manual certificates, names the next config does not manage): the
// next config's app is asked for a reconcile.
func (a *App) Cleanup() error {
	_ = a.Stop()
	if a.revocation != nil {
		a.revocation.checker.Close()
	}
	if a.state != nil {
		a.state.requestReconcile()
		_, err := states.Delete(stateKey)
		return err
	}
	return nil
}

// ObservedNames returns the first name of every certificate in the
// inventory, which holds those the config does not spell out (on-demand
// certificates, manually loaded ones announced by cache events), so that
// tlsguard looks them up too.
func (a *App) ObservedNames() []string {
	if a.state == nil {
		return nil
	}
	return a.state.inv.firstNames()
}

// raise counts, logs and sends an alert.
func (a *App) raise(al Alert) {
	a.state.counts.alert(al.Severity)
	logAlert(a.logger, al)
	if a.sink != nil {
		a.sink.enqueue(al)
	}
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)

	_ certs.NameObserver = (*App)(nil)
)
