package pinreport

import (
	"context"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/webhook"
)

// Webhook sends alerts as JSON POST requests (the Alert type; no key
// material) to a URL, retrying with exponential backoff. The fleet app
// sends its alerts here too when it has no webhook of its own.
type Webhook struct {
	// URL receives the POSTs. It must be absolute, with an http or https
	// scheme. Placeholders such as {env.PINREPORT_WEBHOOK} are replaced
	// when the config loads. Required.
	URL string `json:"url,omitempty"`

	// Secret, when set, signs each body with HMAC-SHA256; the signature
	// is sent in the X-Hardtls-Signature header as "sha256=<hex>".
	// Placeholders are replaced when the config loads, so the secret can
	// stay out of the config ({env.PINREPORT_SECRET}). Default: none.
	Secret string `json:"secret,omitempty"`

	// Timeout bounds each attempt, connection included. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// Retries is how many times a failed delivery (network error, 429 or
	// 5xx) is tried again. Default: 3.
	Retries *int `json:"retries,omitempty"`

	// Backoff is the wait before the first retry; it doubles for each
	// next one. Default: 1s.
	Backoff caddy.Duration `json:"backoff,omitempty"`

	// MinSeverity is the lowest severity sent: info, warning or critical.
	// Default: warning.
	MinSeverity string `json:"min_severity,omitempty"`

	settings    webhook.Settings
	minSeverity Severity
}

// webhookQueueSize is how many alerts wait for the sender at most.
const webhookQueueSize = 256

// provision applies defaults and replaces placeholders.
func (wh *Webhook) provision() error {
	var err error
	wh.settings, err = webhook.Config{
		URL:     wh.URL,
		Secret:  wh.Secret,
		Timeout: time.Duration(wh.Timeout),
		Retries: wh.Retries,
		Backoff: time.Duration(wh.Backoff),
	}.Resolve()
	if err != nil {
		return err
	}
	wh.minSeverity = SeverityWarning
	if wh.MinSeverity != "" {
		if wh.minSeverity, err = parseSeverity(wh.MinSeverity); err != nil {
			return err
		}
	}
	return nil
}

// validate checks the provisioned values.
func (wh *Webhook) validate() error {
	return wh.settings.Check()
}

// CheckMinSeverity reports whether s names a severity: info, warning or
// critical.
func CheckMinSeverity(s string) error {
	_, err := parseSeverity(s)
	return err
}

// sink delivers alerts to a webhook from one goroutine, in order. It
// belongs to one app instance: its sender and queue die with it.
type sink struct {
	minSeverity Severity
	sender      *webhook.Sender
	queue       chan Alert
	logger      *zap.Logger
	counts      *counters
}

func newSink(hook *Webhook, client *http.Client, counts *counters, logger *zap.Logger) *sink {
	return &sink{
		minSeverity: hook.minSeverity,
		sender:      webhook.NewSender(hook.settings, client, "caddy-pinreport", logger),
		queue:       make(chan Alert, webhookQueueSize),
		logger:      logger,
		counts:      counts,
	}
}

// enqueue queues an alert for delivery without blocking; a full queue
// drops it, since alerts come from event handlers that must not stall
// certificate management.
func (s *sink) enqueue(al Alert) {
	if al.Severity < s.minSeverity {
		return
	}
	select {
	case s.queue <- al:
	default:
		s.counts.inc(countWebhookDropped)
		s.logger.Warn("webhook queue full; alert dropped", zap.String("event", al.Event), zap.String("alert_id", al.ID))
	}
}

// run delivers queued alerts until ctx is done.
func (s *sink) run(ctx context.Context) {
	defer s.sender.CloseIdleConnections()
	for {
		select {
		case <-ctx.Done():
			return
		case al := <-s.queue:
			s.deliver(ctx, al)
		}
	}
}

// deliver sends one alert, retrying with backoff, and counts the result.
func (s *sink) deliver(ctx context.Context, al Alert) {
	attempts, err := s.sender.Send(ctx, al.Event, al.ID, al)
	if err == nil {
		s.counts.inc(countWebhookSent)
		return
	}
	s.counts.inc(countWebhookFailed)
	s.logger.Error("webhook delivery failed",
		zap.String("event", al.Event),
		zap.String("alert_id", al.ID),
		zap.Int("attempts", attempts),
		zap.Error(err))
}

// WebhookSettings returns the settings of the app's webhook (placeholders
// replaced, defaults applied) and true, or false when the app has none.
// The fleet app sends its alerts there when it has no webhook of its own,
// so that one configured webhook gets every alert. min_severity is
// pinreport's: it is not part of the settings.
func (a *App) WebhookSettings() (webhook.Settings, bool) {
	if a.Webhook == nil {
		return webhook.Settings{}, false
	}
	return a.Webhook.settings.Clone(), true
}
