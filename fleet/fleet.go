// Package fleet makes Caddy instances that share certificate storage
// visible to each other. Every instance writes one compact record of what
// it serves to the config's own storage (certmagic.Storage) every
// interval; every instance reads them all back into the same view of the
// fleet: who is alive, stale or gone, and where the instances disagree
// (drift). One instance, chosen through the storage's lock and a stored
// alert record, sends each alert once per fleet. There is no server, no
// gossip and no consensus of its own: the storage is the only channel.
//
// The view is served at the admin endpoint GET /fleet/ and as Prometheus
// metrics.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/strictjson"
	"github.com/hardtls/caddy-hardtls/internal/webhook"
)

func init() {
	caddy.RegisterModule(App{})
}

// Defaults.
const (
	defaultInterval       = caddy.Duration(time.Minute)
	defaultStaleAfter     = 3
	defaultGoneAfter      = 60
	defaultForgetAfter    = 7 * 24 * time.Hour
	defaultClockTolerance = caddy.Duration(time.Minute)
	defaultDriftGrace     = caddy.Duration(15 * time.Minute)
)

// Bounds, checked in Validate.
const (
	minInterval   = time.Second
	maxInterval   = 24 * time.Hour
	minStaleAfter = 3
	maxGoneAfter  = 100000
	// alertTimeout bounds a round's alerting: the lock, the notifiers
	// (the webhook's attempts: three for the fleet's own; the pinreport
	// webhook's retries are cut short here) and the alert record.
	alertTimeout = time.Minute
)

// userAgent names the fleet app in its webhook requests.
const userAgent = "caddy-hardtls-fleet"

// observers keeps each storage's observer across config reloads, keyed
// by the storage's description.
var observers = caddy.NewUsagePool()

// App is the fleet app. It is off unless configured.
type App struct {
	// Interval is how often this instance writes its record and reads
	// the others'. Each interval costs one Store, one Delete, one List
	// and a Load per record that changed. Default: 1m.
	Interval caddy.Duration `json:"interval,omitempty"`

	// StaleAfter is how many of an instance's intervals may pass without
	// a new record before it is stale (and alerted). At least 3: a live
	// instance's record can look two intervals old to a reader that lists
	// just before the write. Default: 3.
	StaleAfter int `json:"stale_after,omitempty"`

	// GoneAfter is how many missed intervals make a stale instance gone;
	// gone instances no longer count for drift. More than StaleAfter.
	// Default: 60.
	GoneAfter int `json:"gone_after,omitempty"`

	// ForgetAfter is how long the record of a gone or left instance stays
	// in the storage after it last changed. Then the instance that sends
	// the fleet's alerts deletes it, and the instance leaves the view (a
	// stale alert still open for it ends with a recovery alert), so
	// instances that come and go do not pile up: a container without a
	// persistent data directory starts with a new instance ID every time.
	// Longer than gone_after intervals. Default: 7d, or twice gone_after
	// intervals when that is longer.
	ForgetAfter caddy.Duration `json:"forget_after,omitempty"`

	// ClockTolerance is how far an instance's clock may be from the
	// fleet's median before it is drift. Offsets are measured from the
	// write times in the records against each reader's listings, so an
	// offset up to about one interval more than this can go unnoticed.
	// Default: 1m.
	ClockTolerance caddy.Duration `json:"clock_tolerance,omitempty"`

	// DriftGrace is how long a drift item must last before it is alerted
	// (the view shows it at once). Instances pick up a certificate another
	// one renewed within certmagic's renew_interval (10m by default), and
	// a rolling deploy runs two configs for a while. Default: 15m.
	DriftGrace caddy.Duration `json:"drift_grace,omitempty"`

	// Webhook, when set, receives every fleet alert as a JSON POST.
	// Without one, the fleet's alerts go to the pinreport app's webhook
	// when the config has one (same URL, secret, timeout, retries and
	// backoff; its min_severity is pinreport's and does not apply), so a
	// config with one webhook gets every alert there. Default: the
	// pinreport app's webhook, or none (alerts are logged).
	Webhook *Webhook `json:"webhook,omitempty"`

	self      string
	storage   certmagic.Storage
	source    Source
	notifiers []Notifier
	shared    *webhook.Settings // the pinreport app's webhook, when Webhook is nil
	sender    *webhook.Sender   // Webhook's or shared's; nil without either
	obs       *observer
	poolKey   string
	logger    *zap.Logger
	now       func() time.Time
	locks     *lockState
	view      *atomic.Pointer[View]
	lastFacts Facts // the source's last success; the loop's own
	alerting  *atomic.Bool
	alertWG   *sync.WaitGroup

	// mu guards cancel and done; a pointer, since Caddy copies the zero
	// App to read its module info.
	mu     *sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "fleet",
		New: func() caddy.Module { return new(App) },
	}
}

// UnmarshalJSON decodes the config like Caddy does (unknown fields are
// refused), also refusing a field given twice and naming the field of a
// value that does not decode (strictjson, as tlsguard and pinreport do).
func (a *App) UnmarshalJSON(b []byte) error {
	type plain App
	return strictjson.Decode(b, (*plain)(a))
}

// Provision sets up the app: defaults, this instance's ID, the config's
// storage, the Caddy source of facts, the notifiers, the observer (kept
// across reloads) and the metrics.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	if a.self == "" {
		id, err := caddy.InstanceID()
		if err != nil {
			return fmt.Errorf("reading this instance's ID (instance.uuid in Caddy's data directory): %w", err)
		}
		a.self = id.String()
	}
	if a.storage == nil {
		a.storage = ctx.Storage()
	}
	if a.source == nil {
		a.source = newCaddySource(ctx)
	}
	if a.Webhook == nil {
		a.shared = sharedWebhook(ctx.AppIfConfigured)
	}
	if err := a.provision(); err != nil {
		return err
	}
	if reg := ctx.GetMetricsRegistry(); reg != nil {
		if err := reg.Register(newCollector(a)); err != nil {
			return fmt.Errorf("registering metrics: %w", err)
		}
	}
	return nil
}

// webhookOwner is an app whose webhook the fleet can share: the
// pinreport app. An interface, so that fleet needs no more of pinreport
// than this method.
type webhookOwner interface {
	WebhookSettings() (webhook.Settings, bool)
}

// sharedWebhook returns the settings of the pinreport app's webhook, or
// nil when the config has no pinreport app or it has no webhook: the
// "existing webhook" the fleet's alerts go to when the fleet has none.
// appIfConfigured is the Caddy context's. Apps provision in random order;
// AppIfConfigured provisions pinreport now if it has not been yet, and
// never creates one that is not configured. A pinreport app that fails to
// load fails the config by itself, with its own error when Caddy's loop
// over the apps reaches it, so that error is not repeated under fleet's.
func sharedWebhook(appIfConfigured func(name string) (any, error)) *webhook.Settings {
	app, err := appIfConfigured("pinreport")
	if err != nil {
		return nil
	}
	owner, ok := app.(webhookOwner)
	if !ok {
		return nil
	}
	s, ok := owner.WebhookSettings()
	if !ok {
		return nil
	}
	return &s
}

// provision is Provision once the context's parts (logger, instance ID,
// storage, source, the pinreport app's webhook) are in place.
func (a *App) provision() error {
	a.mu = new(sync.Mutex)
	a.view = new(atomic.Pointer[View])
	a.alerting, a.alertWG = new(atomic.Bool), new(sync.WaitGroup)
	if a.now == nil {
		a.now = time.Now
	}
	if a.Interval == 0 {
		a.Interval = defaultInterval
	}
	if a.StaleAfter == 0 {
		a.StaleAfter = defaultStaleAfter
	}
	if a.GoneAfter == 0 {
		a.GoneAfter = defaultGoneAfter
	}
	if a.ForgetAfter == 0 {
		a.ForgetAfter = caddy.Duration(defaultForgetAfterFor(a))
	}
	if a.ClockTolerance == 0 {
		a.ClockTolerance = defaultClockTolerance
	}
	if a.DriftGrace == 0 {
		a.DriftGrace = defaultDriftGrace
	}
	if a.Webhook != nil {
		if err := a.Webhook.provision(); err != nil {
			return strictjson.Within("webhook", err)
		}
	}
	if a.storage == nil {
		return errors.New("the config has no storage; fleet needs the storage the instances share")
	}
	a.notifiers = append(a.notifiers, logNotifier{logger: a.logger})
	switch {
	case a.Webhook != nil:
		a.sender = webhook.NewSender(a.Webhook.settings, nil, userAgent, a.logger.Named("webhook"))
	case a.shared != nil:
		a.sender = webhook.NewSender(*a.shared, nil, userAgent, a.logger.Named("webhook"))
		a.logger.Debug("fleet alerts go to the pinreport app's webhook") // not its URL: it can hold a token
	}
	if a.sender != nil {
		a.notifiers = append(a.notifiers, webhookNotifier{sender: a.sender})
	}
	a.locks = new(lockState)
	a.poolKey = "fleet.observer." + storageKey(a.storage) + "." + a.self
	obs, _, err := observers.LoadOrNew(a.poolKey, func() (caddy.Destructor, error) {
		return pooledObserver{newObserver(a.self, a.now)}, nil
	})
	if err != nil {
		return err
	}
	a.obs = obs.(pooledObserver).observer
	a.view.Store(&View{Instance: a.self, Alerting: AlertingStatus{Mode: modePending}, Instances: []InstanceView{}, Drift: []DriftItem{}})
	return nil
}

// defaultForgetAfterFor is forget_after's default: 7d, or twice gone_after
// intervals when that is longer.
func defaultForgetAfterFor(a *App) time.Duration {
	return max(defaultForgetAfter, 2*time.Duration(a.GoneAfter)*time.Duration(a.Interval))
}

// storageKey describes a storage for the observer pool: the same storage
// after a reload gets the same observer. A storage that does not describe
// itself gets a fresh observer on every load.
func storageKey(st certmagic.Storage) string {
	if s, ok := st.(fmt.Stringer); ok {
		return fmt.Sprintf("%T:%s", st, s.String())
	}
	return fmt.Sprintf("%T:%p", st, st)
}

// pooledObserver lets an observer live in a caddy.UsagePool.
type pooledObserver struct{ *observer }

// Destruct implements caddy.Destructor.
func (pooledObserver) Destruct() error { return nil }

// Validate ensures the intervals and thresholds are usable.
func (a *App) Validate() error {
	iv := time.Duration(a.Interval)
	switch {
	case iv < minInterval || iv > maxInterval:
		return &strictjson.FieldError{Field: "interval", Value: strictjson.DurationValue(iv), Why: "out of range",
			Fix: fmt.Sprintf("use %s to %s, e.g. 1m (see docs/fleet.md for large fleets)", minInterval, maxInterval)}
	case a.StaleAfter < minStaleAfter:
		return &strictjson.FieldError{Field: "stale_after", Value: strconv.Itoa(a.StaleAfter),
			Why: "a live instance's record can look two intervals old to a reader that lists just before the write, so it would flap",
			Fix: fmt.Sprintf("use %d or more", minStaleAfter)}
	case a.GoneAfter <= a.StaleAfter || a.GoneAfter > maxGoneAfter:
		return &strictjson.FieldError{Field: "gone_after", Value: strconv.Itoa(a.GoneAfter),
			Why: fmt.Sprintf("must be more than stale_after (%d) and at most %d", a.StaleAfter, maxGoneAfter),
			Fix: fmt.Sprintf("e.g. gone_after %d", max(defaultGoneAfter, a.StaleAfter+1))}
	case time.Duration(a.ForgetAfter) <= time.Duration(a.GoneAfter)*iv:
		return &strictjson.FieldError{Field: "forget_after", Value: strictjson.DurationValue(a.ForgetAfter),
			Why: fmt.Sprintf("is not longer than gone_after intervals (%d × %s): an instance is forgotten only after it is gone", a.GoneAfter, iv),
			Fix: fmt.Sprintf("use more than %s, e.g. %s", time.Duration(a.GoneAfter)*iv, defaultForgetAfterFor(a))}
	case a.ClockTolerance < caddy.Duration(time.Second):
		return &strictjson.FieldError{Field: "clock_tolerance", Value: strictjson.DurationValue(a.ClockTolerance),
			Why: "too small to tell from storage latency", Fix: "use 1s or more, e.g. 1m"}
	case a.DriftGrace < 0:
		return &strictjson.FieldError{Field: "drift_grace", Value: strictjson.DurationValue(a.DriftGrace),
			Why: "negative", Fix: "use a duration such as 15m"}
	}
	if a.Webhook != nil {
		if err := a.Webhook.validate(); err != nil {
			return strictjson.Within("webhook", err)
		}
	}
	return nil
}

// Start starts the loop: a round now, then one every Interval; and, in
// the background, the probe that tells whether the storage's locks allow
// alerting once per fleet.
func (a *App) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a.mu.Lock()
	a.cancel, a.done = cancel, done
	a.mu.Unlock()
	go a.probe(ctx)
	go a.loop(ctx, done)
	a.logger.Info("fleet",
		zap.String("instance", a.self),
		zap.String("storage", fmt.Sprintf("%T", a.storage)),
		zap.Duration("interval", time.Duration(a.Interval)),
		zap.Int("stale_after", a.StaleAfter),
		zap.Int("gone_after", a.GoneAfter),
		zap.Duration("forget_after", time.Duration(a.ForgetAfter)))
	return nil
}

// Stop stops the loop. When Caddy is exiting (not reloading), the
// instance writes a last record that says it stopped, so the others show
// it as left rather than stale.
func (a *App) Stop() error {
	if a.mu == nil {
		return nil // not provisioned
	}
	a.mu.Lock()
	cancel, done := a.cancel, a.done
	a.cancel, a.done = nil, nil
	a.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	<-done
	a.alertWG.Wait()
	if caddy.Exiting() {
		ctx, cancel := context.WithTimeout(context.Background(), a.opTimeout())
		defer cancel()
		facts := a.instanceFacts(ctx)
		facts.Stopped = true
		if err := a.obs.write(ctx, a.storage, facts, a.logger); err == nil {
			a.obs.deleteOld(ctx, a.storage, a.logger)
		}
	}
	return nil
}

// Cleanup releases the observer and the webhook's connections.
func (a *App) Cleanup() error {
	if a.sender != nil {
		a.sender.CloseIdleConnections()
	}
	if a.poolKey != "" {
		_, _ = observers.Delete(a.poolKey)
	}
	return nil
}

// opTimeout bounds every storage operation of a round.
func (a *App) opTimeout() time.Duration {
	return min(max(time.Duration(a.Interval), 5*time.Second), 30*time.Second)
}

// probe finds out whether the storage's locks exclude, retrying while the
// storage fails.
func (a *App) probe(ctx context.Context) {
	for {
		exclusive, reason, err := probeLocks(ctx, a.storage, a.self, a.opTimeout())
		if err == nil {
			if exclusive {
				a.locks.set(modeOncePerFleet, "")
			} else {
				a.locks.set(modeReportingOnly, reason)
				a.logger.Warn("fleet alerts disabled: the storage's locks do not exclude", zap.String("reason", reason))
			}
			return
		}
		a.logger.Debug("probing the storage's locks", zap.Error(err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(a.Interval)):
		}
	}
}

// loop runs a round every Interval until ctx is done.
func (a *App) loop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	ticker := time.NewTicker(time.Duration(a.Interval))
	defer ticker.Stop()
	for {
		a.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// round writes this instance's record, lists the others, builds the view
// and, on the chosen instance, sends what changed.
func (a *App) round(ctx context.Context) {
	opCtx, cancel := context.WithTimeout(ctx, a.opTimeout())
	defer cancel()
	if err := a.obs.write(opCtx, a.storage, a.instanceFacts(opCtx), a.logger); err == nil {
		a.obs.deleteOld(opCtx, a.storage, a.logger)
	}
	_ = a.obs.list(opCtx, a.storage, a.logger)

	now := a.now()
	v := buildView(a.obs.snapshot(), a.thresholds(), now)
	v.Alerting.Mode, v.Alerting.Reason = a.locks.get()
	firstSeen := a.obs.trackDrift(v, now)
	a.view.Store(&v)
	if v.Alerting.Alerter == a.self && v.Storage.OK {
		a.forget(ctx, v, now)
	}

	if v.Alerting.Mode != modeOncePerFleet || v.Alerting.Alerter != a.self || !v.Storage.OK {
		return
	}
	// Alerting may wait for a lock and a notifier's retries: it runs
	// beside the loop, one run at a time, so this instance keeps writing
	// its record (a slow webhook must not make the alerter look stale).
	if !a.alerting.CompareAndSwap(false, true) {
		return
	}
	al := &alerter{self: a.self, storage: a.storage, notifiers: a.notifiers, logger: a.logger, stats: a.obs.stats, now: a.now, wait: a.opTimeout()}
	grace := time.Duration(a.DriftGrace)
	a.alertWG.Add(1)
	go func() {
		defer a.alertWG.Done()
		defer a.alerting.Store(false)
		alertCtx, cancel := context.WithTimeout(ctx, alertTimeout)
		defer cancel()
		if err := al.run(alertCtx, v, firstSeen, grace); err != nil {
			a.logger.Warn("sending fleet alerts; trying again next interval", zap.Error(err))
		}
	}()
}

// forget deletes the records of the instances gone or left for
// ForgetAfter. Only the instance chosen to send alerts does it, whether
// or not the storage's locks let it alert once: two instances deleting
// the same record while they disagree on the choice is harmless.
func (a *App) forget(ctx context.Context, v View, now time.Time) {
	var ids []string
	for _, iv := range v.Instances {
		if (iv.State == StateGone || iv.State == StateLeft) && now.Sub(iv.LastSeen) >= time.Duration(a.ForgetAfter) && iv.ID != a.self {
			ids = append(ids, iv.ID)
		}
	}
	if len(ids) == 0 {
		return
	}
	opCtx, cancel := context.WithTimeout(ctx, a.opTimeout())
	defer cancel()
	a.obs.forget(opCtx, a.storage, ids, time.Duration(a.ForgetAfter), a.logger)
}

// instanceFacts asks the source and adds what the fleet knows itself.
func (a *App) instanceFacts(ctx context.Context) InstanceFacts {
	f, err := a.source.Facts(ctx)
	if err == nil {
		a.lastFacts = f
	} else {
		f = a.lastFacts
	}
	obs := a.obs.snapshot()
	facts := InstanceFacts{
		Facts:        f,
		Started:      obs.started.UTC(),
		Interval:     time.Duration(a.Interval),
		Ready:        obs.listed && a.now().Sub(obs.started) >= time.Duration(a.StaleAfter)*time.Duration(a.Interval),
		StorageError: obs.health.ListError,
	}
	if err != nil {
		facts.FactsError = err.Error()
		a.logger.Warn("reading this instance's facts", zap.Error(err))
	}
	return facts
}

func (a *App) thresholds() thresholds {
	return thresholds{
		interval:       time.Duration(a.Interval),
		staleAfter:     a.StaleAfter,
		goneAfter:      a.GoneAfter,
		clockTolerance: time.Duration(a.ClockTolerance),
	}
}

// currentView returns the view of the last round.
func (a *App) currentView() View {
	return *a.view.Load()
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
