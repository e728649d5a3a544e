package fleet

import (
	"context"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/finding"
	"github.com/hardtls/caddy-hardtls/internal/webhook"
)

// A Notifier delivers the fleet's alerts. The instance that sends an
// alert calls every notifier once, while it holds the alert lock; a
// notifier retries on its own and returns when it is done or gives up.
type Notifier interface {
	Notify(ctx context.Context, alert Alert) error
}

// logNotifier writes every alert to the fleet logger; it is always on.
type logNotifier struct{ logger *zap.Logger }

// Notify implements Notifier.
func (n logNotifier) Notify(_ context.Context, al Alert) error {
	keys := make([]string, len(al.Items))
	for i, it := range al.Items {
		keys[i] = it.Key
	}
	level := zap.WarnLevel
	if al.Severity == finding.Info {
		level = zap.InfoLevel
	}
	n.logger.Check(level, "fleet alert").Write(
		zap.String("event", al.Event),
		zap.String("alert_id", al.ID),
		zap.String("sent_by", al.SentBy),
		zap.Strings("conditions", keys),
		zap.String("message", al.Message))
	return nil
}

// Webhook POSTs each fleet alert as JSON (the Alert type) to a URL, with
// the delivery pinreport's webhook uses (internal/webhook): the same
// headers, signature and handling of answers. It has no retries or
// backoff of its own to set: a network error, a 429 or a 5xx answer is
// tried twice more, 1s then 2s later, within the minute a round's
// alerting may take.
type Webhook struct {
	// URL receives the POSTs: absolute, http or https. Placeholders such
	// as {env.FLEET_WEBHOOK} are replaced when the config loads. Required.
	URL string `json:"url,omitempty"`

	// Secret, when set, signs each body with HMAC-SHA256, sent in the
	// X-Hardtls-Signature header as "sha256=<hex>". Placeholders are
	// replaced when the config loads. Default: none.
	Secret string `json:"secret,omitempty"`

	// Timeout bounds each attempt, connection included. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	settings webhook.Settings
}

// Retries of the fleet's own webhook; see Webhook.
const (
	webhookRetries = 2
	webhookBackoff = time.Second
)

// provision replaces placeholders and applies defaults.
func (wh *Webhook) provision() error {
	retries := webhookRetries
	var err error
	wh.settings, err = webhook.Config{
		URL:     wh.URL,
		Secret:  wh.Secret,
		Timeout: time.Duration(wh.Timeout),
		Retries: &retries,
		Backoff: webhookBackoff,
	}.Resolve()
	return err
}

// validate checks the provisioned values.
func (wh *Webhook) validate() error {
	return wh.settings.Check()
}

// webhookNotifier sends alerts to a webhook: the fleet's own, or the
// pinreport app's when the fleet has none.
type webhookNotifier struct{ sender *webhook.Sender }

// Notify implements Notifier.
func (n webhookNotifier) Notify(ctx context.Context, al Alert) error {
	_, err := n.sender.Send(ctx, al.Event, al.ID, al)
	return err
}

// Interface guards
var (
	_ Notifier = logNotifier{}
	_ Notifier = webhookNotifier{}
)
