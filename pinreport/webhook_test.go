package pinreport

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hardtls/caddy-hardtls/internal/webhook"
)

// receiver is a webhook endpoint answering with the given statuses in
// turn (200 once they run out).
type receiver struct {
	mu       sync.Mutex
	statuses []int
	bodies   [][]byte
	headers  []http.Header
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.bodies = append(rc.bodies, body)
	rc.headers = append(rc.headers, r.Header.Clone())
	status := http.StatusOK
	if len(rc.statuses) > 0 {
		status, rc.statuses = rc.statuses[0], rc.statuses[1:]
	}
	w.WriteHeader(status)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.bodies)
}

func provisioned(t *testing.T, wh *Webhook) *Webhook {
	t.Helper()
	if err := wh.provision(); err != nil {
		t.Fatal(err)
	}
	if err := wh.validate(); err != nil {
		t.Fatal(err)
	}
	return wh
}

func TestWebhookRetriesAndSigns(t *testing.T) {
	rc := &receiver{statuses: []int{503, 429, 200}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	t.Setenv("PINREPORT_TEST_SECRET", "s3cret")
	retries := 3
	hook := provisioned(t, &Webhook{URL: srv.URL, Secret: "{env.PINREPORT_TEST_SECRET}", Retries: &retries, Backoff: 1})
	st := new(counters)
	s := newSink(hook, srv.Client(), st, zap.NewNop())

	al := newAlert(EventRenewalFailed, SeverityWarning, time.Now(), "certificate renewal failed")
	al.Identifier = "a.example"
	s.deliver(context.Background(), al)

	if rc.count() != 3 || st.get(countWebhookSent) != 1 || st.get(countWebhookFailed) != 0 {
		t.Fatalf("%d attempts, %d sent, %d failed; want 3, 1, 0", rc.count(), st.get(countWebhookSent), st.get(countWebhookFailed))
	}
	for i, h := range rc.headers {
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write(rc.bodies[i])
		if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); h.Get(webhook.HeaderSignature) != want {
			t.Errorf("attempt %d: signature %q, want %q", i, h.Get(webhook.HeaderSignature), want)
		}
		if h.Get(webhook.HeaderDelivery) != al.ID || h.Get(webhook.HeaderEvent) != EventRenewalFailed || h.Get("Content-Type") != "application/json" {
			t.Errorf("attempt %d: headers %v", i, h)
		}
	}
	var got Alert
	if err := json.Unmarshal(rc.bodies[2], &got); err != nil {
		t.Fatal(err)
	}
	if got.ID != al.ID || got.Identifier != "a.example" || got.Severity != SeverityWarning {
		t.Errorf("delivered %+v", got)
	}
}

func TestWebhookGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		retries  int
		attempts int
	}{
		{"client error is not retried", []int{400}, 3, 1},
		{"server errors until retries run out", []int{500, 500, 500}, 2, 3},
		{"no retries", []int{502}, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &receiver{statuses: tc.statuses}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			hook := provisioned(t, &Webhook{URL: srv.URL, Retries: &tc.retries, Backoff: 1})
			st := new(counters)
			newSink(hook, srv.Client(), st, zap.NewNop()).deliver(context.Background(), newAlert(EventExpired, SeverityCritical, time.Now(), "x"))
			if rc.count() != tc.attempts || st.get(countWebhookFailed) != 1 || st.get(countWebhookSent) != 0 {
				t.Errorf("%d attempts, failed %d, sent %d; want %d, 1, 0", rc.count(), st.get(countWebhookFailed), st.get(countWebhookSent), tc.attempts)
			}
		})
	}
}

func TestWebhookStopsDuringBackoff(t *testing.T) {
	rc := &receiver{statuses: []int{503, 503}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	hook := provisioned(t, &Webhook{URL: srv.URL, Backoff: 1 << 62})
	core, logs := observer.New(zap.DebugLevel)
	s := newSink(hook, srv.Client(), new(counters), zap.New(core))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.run(ctx); close(done) }()
	s.enqueue(newAlert(EventExpired, SeverityCritical, time.Now(), "x"))
	// Logged after the first answer and before the wait to retry.
	waitFor(t, "the wait to retry", func() bool { return logs.FilterMessage("webhook delivery failed; retrying").Len() == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the sender did not stop while waiting to retry")
	}
}

func TestWebhookQueue(t *testing.T) {
	hook := provisioned(t, &Webhook{URL: "http://127.0.0.1:1/hook"})
	st := new(counters)
	s := newSink(hook, nil, st, zap.NewNop())
	s.enqueue(newAlert(EventPinChanged, SeverityInfo, time.Now(), "below min_severity"))
	if len(s.queue) != 0 {
		t.Error("an info alert was queued with the default min_severity warning")
	}
	for range webhookQueueSize + 5 {
		s.enqueue(newAlert(EventExpired, SeverityCritical, time.Now(), "x"))
	}
	if len(s.queue) != webhookQueueSize || st.get(countWebhookDropped) != 5 {
		t.Errorf("queue %d, dropped %d; want %d queued and 5 dropped", len(s.queue), st.get(countWebhookDropped), webhookQueueSize)
	}
}

func TestWebhookConfig(t *testing.T) {
	wh := &Webhook{URL: "https://alerts.example/hook"}
	if err := wh.provision(); err != nil {
		t.Fatal(err)
	}
	if wh.settings.Timeout != webhook.DefaultTimeout || wh.settings.Retries != webhook.DefaultRetries || wh.settings.Backoff != webhook.DefaultBackoff || wh.minSeverity != SeverityWarning {
		t.Errorf("defaults: %+v, min severity %s", wh.settings, wh.minSeverity)
	}
	// The value rules are internal/webhook's (tested there); these show
	// that the JSON fields reach them.
	neg := -1
	for _, tc := range []struct {
		wh      Webhook
		errPart string
	}{
		{Webhook{URL: "alerts.example/hook"}, `url = "alerts.example/hook": has no http:// or https:// scheme; fix: write it as https://alerts.example/hook`},
		{Webhook{URL: "https://a.example", Timeout: -1}, `timeout = "-1ns": is negative`},
		{Webhook{URL: "https://a.example", Backoff: -1}, `backoff = "-1ns": is negative`},
		{Webhook{URL: "https://a.example", Retries: &neg}, "retries = -1: is out of range; fix: write 0 to 20"},
	} {
		wh := tc.wh
		err := wh.provision()
		if err == nil {
			err = wh.validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.errPart) {
			t.Errorf("%+v: error %v; want one containing %q", tc.wh, err, tc.errPart)
		}
	}
	bad := &Webhook{URL: "https://a.example", MinSeverity: "loud"}
	if err := bad.provision(); err == nil || !strings.Contains(err.Error(), `min_severity = "loud": is not a severity`) {
		t.Errorf("min_severity loud: %v", err)
	}
	secret := &Webhook{URL: "https://a.example", Secret: "{env.PINREPORT_UNSET_" + "SECRET}"}
	if err := secret.provision(); err == nil || !strings.Contains(err.Error(), "secret = (not shown): ") || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("a secret from an unset variable must be refused, not sign with an empty key: %v", err)
	}
}

func TestWebhookSettings(t *testing.T) {
	if _, ok := new(App).WebhookSettings(); ok {
		t.Error("an app without a webhook reports settings")
	}
	t.Setenv("PINREPORT_TEST_SECRET", "s3cret")
	retries := 5
	a := &App{Webhook: provisioned(t, &Webhook{URL: "https://alerts.example/hook", Secret: "{env.PINREPORT_TEST_SECRET}", Retries: &retries})}
	s, ok := a.WebhookSettings()
	if !ok || s.URL != "https://alerts.example/hook" || string(s.Secret) != "s3cret" || s.Retries != 5 || s.Timeout != webhook.DefaultTimeout {
		t.Errorf("WebhookSettings = %+v, %v", s, ok)
	}
	s.Secret[0] = 'X'
	if again, _ := a.WebhookSettings(); string(again.Secret) != "s3cret" {
		t.Error("WebhookSettings shares the secret's memory with its caller")
	}
}
