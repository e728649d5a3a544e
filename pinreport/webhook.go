package pinreport

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"
)

// Webhook headers.
const (
	// HeaderSignature carries "sha256=<hex HMAC-SHA256 of the body>" when a
	// secret is configured, as GitHub's X-Hub-Signature-256 does.
	HeaderSignature = "X-Pinreport-Signature"
	// HeaderEvent carries the alert's event.
	HeaderEvent = "X-Pinreport-Event"
	// HeaderDelivery carries the alert ID, the same on every retry, so a
	// receiver can drop repeats.
	HeaderDelivery = "X-Pinreport-Delivery"
)

// Webhook sends alerts as JSON POST requests (the Alert type; no key
// material) to a URL, retrying with exponential backoff.
type Webhook struct {
	// URL receives the POSTs. It must be absolute, with an http or https
	// scheme. Placeholders such as {env.PINREPORT_WEBHOOK} are replaced
	// when the config loads. Required.
	URL string `json:"url,omitempty"`

	// Secret, when set, signs each body with HMAC-SHA256; the signature
	// is sent in the X-Pinreport-Signature header as "sha256=<hex>".
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

	url         string
	secret      []byte
	timeout     time.Duration
	retries     int
	backoff     time.Duration
	minSeverity Severity
}

// Webhook defaults.
const (
	defaultWebhookTimeout = 10 * time.Second
	defaultWebhookRetries = 3
	defaultWebhookBackoff = time.Second
	maxWebhookRetries     = 20
	webhookQueueSize      = 256
)

// provision applies defaults and replaces placeholders.
func (wh *Webhook) provision() error {
	repl := caddy.NewReplacer()
	var err error
	if wh.url, err = repl.ReplaceOrErr(wh.URL, true, true); err != nil {
		return fmt.Errorf("url %q: %v", wh.URL, err)
	}
	secret, err := repl.ReplaceOrErr(wh.Secret, true, true)
	if err != nil {
		return fmt.Errorf("secret: %v", err) // never echo the secret
	}
	wh.secret = []byte(secret)
	wh.timeout = time.Duration(wh.Timeout)
	if wh.timeout == 0 {
		wh.timeout = defaultWebhookTimeout
	}
	wh.retries = defaultWebhookRetries
	if wh.Retries != nil {
		wh.retries = *wh.Retries
	}
	wh.backoff = time.Duration(wh.Backoff)
	if wh.backoff == 0 {
		wh.backoff = defaultWebhookBackoff
	}
	wh.minSeverity = SeverityWarning
	if wh.MinSeverity != "" {
		if wh.minSeverity, err = parseSeverity(wh.MinSeverity); err != nil {
			return err
		}
	}
	return nil
}

// CheckMinSeverity reports whether s names a severity: info, warning or
// critical.
func CheckMinSeverity(s string) error {
	_, err := parseSeverity(s)
	return err
}

// CheckRetries reports whether n retries are allowed: 0 to 20.
func CheckRetries(n int) error {
	if n < 0 || n > maxWebhookRetries {
		return fmt.Errorf("retries %d is out of range; want 0 to %d", n, maxWebhookRetries)
	}
	return nil
}

// CheckWebhookURL reports whether s is a usable webhook URL: absolute,
// http or https, with a host. A URL holding placeholders is checked once
// they are replaced, when the config loads.
func CheckWebhookURL(s string) error {
	if strings.ContainsAny(s, "{}") {
		return nil
	}
	u, err := url.Parse(s)
	switch {
	case s == "":
		return fmt.Errorf("url is required; set it to the receiver, e.g. https://alerts.example.com/hook")
	case err != nil:
		return fmt.Errorf("url %q: %v", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("url %q has no http:// or https:// scheme; write it as https://%s", s, strings.TrimPrefix(s, u.Scheme+"://"))
	case u.Host == "":
		return fmt.Errorf("url %q has no host; want e.g. https://alerts.example.com/hook", s)
	}
	return nil
}

// validate checks the provisioned values.
func (wh *Webhook) validate() error {
	if err := CheckWebhookURL(wh.url); err != nil {
		return err
	}
	switch {
	case wh.timeout < 0:
		return fmt.Errorf("timeout %s is negative; want a positive duration such as 10s", wh.timeout)
	case wh.backoff < 0:
		return fmt.Errorf("backoff %s is negative; want a positive duration such as 1s", wh.backoff)
	}
	return CheckRetries(wh.retries)
}

// sink delivers alerts to a webhook from one goroutine, in order. It
// belongs to one app instance: its client and queue die with it.
type sink struct {
	hook   *Webhook
	client *http.Client
	queue  chan Alert
	logger *zap.Logger
	counts *counters
}

func newSink(hook *Webhook, client *http.Client, counts *counters, logger *zap.Logger) *sink {
	if client == nil {
		client = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// A redirect would turn the POST into a GET without the
			// alert (301, 302); the receiver's URL is to be fixed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &sink{hook: hook, client: client, queue: make(chan Alert, webhookQueueSize), logger: logger, counts: counts}
}

// enqueue queues an alert for delivery without blocking; a full queue
// drops it, since alerts come from event handlers that must not stall
// certificate management.
func (s *sink) enqueue(al Alert) {
	if al.Severity < s.hook.minSeverity {
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
	defer s.client.CloseIdleConnections()
	for {
		select {
		case <-ctx.Done():
			return
		case al := <-s.queue:
			s.deliver(ctx, al)
		}
	}
}

// deliver sends one alert, retrying with backoff.
func (s *sink) deliver(ctx context.Context, al Alert) {
	body, err := json.Marshal(al)
	if err != nil {
		s.logger.Error("encoding webhook alert", zap.Error(err))
		return
	}
	wait := s.hook.backoff
	for attempt := 0; ; attempt++ {
		retry, err := s.post(ctx, al, body)
		if err == nil {
			s.counts.inc(countWebhookSent)
			return
		}
		if !retry || attempt >= s.hook.retries || ctx.Err() != nil {
			s.counts.inc(countWebhookFailed)
			s.logger.Error("webhook delivery failed",
				zap.String("event", al.Event),
				zap.String("alert_id", al.ID),
				zap.Int("attempts", attempt+1),
				zap.Error(err))
			return
		}
		s.logger.Debug("webhook delivery failed; retrying",
			zap.String("alert_id", al.ID),
			zap.Int("attempt", attempt+1),
			zap.Duration("backoff", wait),
			zap.Error(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			s.counts.inc(countWebhookFailed)
			return
		case <-t.C:
		}
		wait *= 2
	}
}

// post makes one attempt and reports whether a failure is worth a retry.
func (s *sink) post(ctx context.Context, al Alert, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.hook.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.hook.url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "caddy-pinreport")
	req.Header.Set(HeaderEvent, al.Event)
	req.Header.Set(HeaderDelivery, al.ID)
	if len(s.hook.secret) > 0 {
		req.Header.Set(HeaderSignature, Sign(s.hook.secret, body))
	}
	resp, err := s.client.Do(req)
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
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return false, fmt.Errorf("receiver redirects (%s) to %q; set the webhook url to the final address", resp.Status, resp.Header.Get("Location"))
	}
	return false, errors.New("receiver refused the alert: " + resp.Status)
}

// Sign returns the X-Pinreport-Signature value of body: "sha256=" and
// the hex HMAC-SHA256 of body under secret. Receivers compute the same
// and compare with hmac.Equal.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
