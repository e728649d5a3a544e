package webhook

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
	"time"

	"go.uber.org/zap"
)

// A Sender POSTs alerts to one webhook. It keeps no queue and starts no
// goroutine: each Send returns when the alert is delivered or given up.
// It is safe for concurrent use.
type Sender struct {
	settings  Settings
	client    *http.Client
	userAgent string
	logger    *zap.Logger
}

// NewSender returns a Sender for settings (Resolve'd and Checked). client
// nil means a transport of the sender's own; whatever the client, the
// sender does not follow redirects: a 301 or 302 would turn the POST into
// a GET without the alert, so the receiver's URL is to be fixed instead.
// userAgent names the app in the User-Agent header; retries are logged
// at debug level to logger (nil: not logged).
func NewSender(settings Settings, client *http.Client, userAgent string, logger *zap.Logger) *Sender {
	var c http.Client
	if client != nil {
		c = *client
	} else {
		c.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Sender{settings: settings.Clone(), client: &c, userAgent: userAgent, logger: logger}
}

// Send POSTs payload as JSON with the event and the alert ID in the
// HeaderEvent and HeaderDelivery headers, signed when a secret is set.
// A network error, a 429 or a 5xx answer is tried again up to Retries
// times, after Backoff, doubled each time; a 2xx answer delivers, any
// other answer gives up. Send returns the number of attempts made and,
// when the alert was not delivered, the last attempt's error (followed by
// ctx's when ctx ended the wait for a retry).
func (s *Sender) Send(ctx context.Context, event, id string, payload any) (attempts int, err error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("encoding the alert: %w", err)
	}
	wait := s.settings.Backoff
	for attempts = 1; ; attempts++ {
		retry, err := s.post(ctx, event, id, body)
		if err == nil {
			return attempts, nil
		}
		if !retry || attempts > s.settings.Retries || ctx.Err() != nil {
			return attempts, err
		}
		s.logger.Debug("webhook delivery failed; retrying",
			zap.String("alert_id", id),
			zap.Int("attempt", attempts),
			zap.Duration("backoff", wait),
			zap.Error(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return attempts, fmt.Errorf("%w (then %v)", err, ctx.Err())
		case <-t.C:
		}
		wait *= 2
	}
}

// post makes one attempt and reports whether a failure is worth a retry.
func (s *Sender) post(ctx context.Context, event, id string, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.settings.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.settings.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.userAgent)
	req.Header.Set(HeaderEvent, event)
	req.Header.Set(HeaderDelivery, id)
	if len(s.settings.Secret) > 0 {
		req.Header.Set(HeaderSignature, Sign(s.settings.Secret, body))
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

// CloseIdleConnections closes the connections the sender keeps open.
func (s *Sender) CloseIdleConnections() {
	s.client.CloseIdleConnections()
}

// Sign returns the HeaderSignature value of body: "sha256=" and the hex
// HMAC-SHA256 of body under secret. Receivers compute the same over the
// raw body and compare with hmac.Equal.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
