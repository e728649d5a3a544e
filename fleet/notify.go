package fleet

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/finding"
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

// Webhook headers.
const (
	// HeaderEvent carries the alert's event.
	HeaderEvent = "X-Fleet-Event"
	// HeaderDelivery carries the alert ID, the same on every retry.
	HeaderDelivery = "X-Fleet-Delivery"
	// HeaderSignature carries "sha256=<hex HMAC-SHA256 of the body>" when a
	// secret is set.
	HeaderSignature = "X-Fleet-Signature"
)

// Webhook POSTs each fleet alert as JSON (the Alert type) to a URL. It is
// deliberately small: pinreport's webhook is the full-featured one.
type Webhook struct {
	// URL receives the POSTs: absolute, http or https. Placeholders such
	// as {env.FLEET_WEBHOOK} are replaced when the config loads. Required.
	URL string `json:"url,omitempty"`

	// Secret, when set, signs each body with HMAC-SHA256, sent in the
	// X-Fleet-Signature header as "sha256=<hex>". Placeholders are
	// replaced when the config loads. Default: none.
	Secret string `json:"secret,omitempty"`

	// Timeout bounds each attempt; a network error or a 5xx answer is
	// tried twice more, a second apart. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	url     string
	secret  []byte
	client  *http.Client
	retries int
	backoff time.Duration
}

const defaultWebhookTimeout = 10 * time.Second

// provision replaces placeholders and applies defaults.
func (wh *Webhook) provision() error {
	repl := caddy.NewReplacer()
	var err error
	if wh.url, err = repl.ReplaceOrErr(wh.URL, true, true); err != nil {
		return fmt.Errorf("webhook url = %q: %v; fix: set the variable or write the URL", wh.URL, err)
	}
	secret, err := repl.ReplaceOrErr(wh.Secret, true, true)
	if err != nil {
		return fmt.Errorf("webhook secret: %v; fix: set the variable", err) // never echo the secret
	}
	wh.secret = []byte(secret)
	if wh.Timeout == 0 {
		wh.Timeout = caddy.Duration(defaultWebhookTimeout)
	}
	wh.retries, wh.backoff = 2, time.Second
	wh.client = &http.Client{
		Transport: http.DefaultTransport.(*http.Transport).Clone(),
		// A redirect would turn the POST into a GET without the alert.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return nil
}

// validate checks the provisioned values.
func (wh *Webhook) validate() error {
	u, err := url.Parse(wh.url)
	switch {
	case wh.url == "":
		return fmt.Errorf("webhook url is empty; fix: set it to the receiver, e.g. https://alerts.example.com/hook")
	case err != nil:
		return fmt.Errorf("webhook url = %q: %v", wh.url, err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return fmt.Errorf("webhook url = %q: not an absolute http or https URL; fix: write it as https://host/path", wh.url)
	case wh.Timeout < 0:
		return fmt.Errorf("webhook timeout = %s: negative; fix: use a positive duration such as 10s", time.Duration(wh.Timeout))
	}
	return nil
}

// Notify implements Notifier.
func (wh *Webhook) Notify(ctx context.Context, al Alert) error {
	body, err := json.Marshal(al)
	if err != nil {
		return err
	}
	wait := wh.backoff
	for attempt := 0; ; attempt++ {
		retry, err := wh.post(ctx, al, body)
		if err == nil || !retry || attempt >= wh.retries {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (then %v)", err, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// post makes one attempt and tells whether a failure is worth a retry.
func (wh *Webhook) post(ctx context.Context, al Alert, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(wh.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "caddy-hardtls-fleet")
	req.Header.Set(HeaderEvent, al.Event)
	req.Header.Set(HeaderDelivery, al.ID)
	if len(wh.secret) > 0 {
		mac := hmac.New(sha256.New, wh.secret)
		mac.Write(body)
		req.Header.Set(HeaderSignature, "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := wh.client.Do(req)
	if err != nil {
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("receiver answered %s", resp.Status)
	}
	return false, fmt.Errorf("receiver refused the alert: %s", strings.TrimSpace(resp.Status))
}

// Interface guards
var (
	_ Notifier = logNotifier{}
	_ Notifier = (*Webhook)(nil)
)
