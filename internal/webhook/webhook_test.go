package webhook

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
)

// receiver is a webhook endpoint answering with the given statuses in
// turn (200 once they run out), after delay.
type receiver struct {
	delay time.Duration

	mu       sync.Mutex
	statuses []int
	bodies   [][]byte
	headers  []http.Header
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, body)
	rc.headers = append(rc.headers, r.Header.Clone())
	status := http.StatusOK
	if len(rc.statuses) > 0 {
		status, rc.statuses = rc.statuses[0], rc.statuses[1:]
	}
	rc.mu.Unlock()
	if rc.delay > 0 {
		select {
		case <-time.After(rc.delay):
		case <-r.Context().Done():
			return
		}
	}
	w.WriteHeader(status)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.bodies)
}

type alert struct {
	ID      string `json:"id"`
	Event   string `json:"event"`
	Message string `json:"message"`
}

// sender resolves and checks cfg and returns a sender for it.
func sender(t *testing.T, cfg Config) *Sender {
	t.Helper()
	s, err := cfg.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	return NewSender(s, nil, "hardtls-test", nil)
}

func retries(n int) *int { return &n }

func TestSendSignsAndRetries(t *testing.T) {
	rc := &receiver{statuses: []int{503, 429, 200}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	const secret = "s3cret-key-material"
	t.Setenv("HARDTLS_WEBHOOK_TEST_SECRET", secret)
	s := sender(t, Config{URL: srv.URL, Secret: "{env.HARDTLS_WEBHOOK_TEST_SECRET}", Retries: retries(3), Backoff: time.Millisecond})

	al := alert{ID: "a-1", Event: "expired", Message: "certificate expired"}
	attempts, err := s.Send(context.Background(), al.Event, al.ID, al)
	if err != nil || attempts != 3 || rc.count() != 3 {
		t.Fatalf("Send = %d, %v after %d requests; want 3 attempts, delivered", attempts, err, rc.count())
	}
	for i, h := range rc.headers {
		// The receiver's own computation, not Sign.
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(rc.bodies[i])
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if got := h.Get("X-Hardtls-Signature"); !hmac.Equal([]byte(got), []byte(want)) {
			t.Errorf("attempt %d: signature %q, want %q", i, got, want)
		}
		if h.Get("X-Hardtls-Delivery") != al.ID || h.Get("X-Hardtls-Event") != al.Event ||
			h.Get("Content-Type") != "application/json" || h.Get("User-Agent") != "hardtls-test" {
			t.Errorf("attempt %d: headers %v", i, h)
		}
		if strings.Contains(string(rc.bodies[i]), secret) {
			t.Errorf("attempt %d: the body holds the secret: %s", i, rc.bodies[i])
		}
	}
	var got alert
	if err := json.Unmarshal(rc.bodies[2], &got); err != nil || got != al {
		t.Errorf("delivered %+v (%v), want %+v", got, err, al)
	}
}

func TestSendWithoutSecretIsUnsigned(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	if _, err := sender(t, Config{URL: srv.URL}).Send(context.Background(), "e", "id", alert{}); err != nil {
		t.Fatal(err)
	}
	if sig, ok := rc.headers[0]["X-Hardtls-Signature"]; ok {
		t.Errorf("signature %q sent without a secret", sig)
	}
}

func TestSendGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		retries  int
		attempts int
		errPart  string
	}{
		{"client error is not retried", []int{400}, 3, 1, "receiver refused the alert: 400 Bad Request"},
		{"not found is not retried", []int{404}, 3, 1, "receiver refused the alert: 404"},
		{"server errors until retries run out", []int{500, 502, 503}, 2, 3, "receiver answered 503"},
		{"too many requests until retries run out", []int{429, 429}, 1, 2, "receiver answered 429"},
		{"no retries", []int{502}, 0, 1, "receiver answered 502"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &receiver{statuses: tc.statuses}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			s := sender(t, Config{URL: srv.URL, Retries: &tc.retries, Backoff: time.Millisecond})
			attempts, err := s.Send(context.Background(), "e", "id", alert{})
			if attempts != tc.attempts || rc.count() != tc.attempts || err == nil || !strings.Contains(err.Error(), tc.errPart) {
				t.Errorf("Send = %d, %v after %d requests; want %d attempts and an error containing %q", attempts, err, rc.count(), tc.attempts, tc.errPart)
			}
		})
	}
}

func TestSendRetriesNetworkErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	attempts, err := sender(t, Config{URL: url, Retries: retries(2), Backoff: time.Millisecond}).Send(context.Background(), "e", "id", alert{})
	if attempts != 3 || err == nil {
		t.Errorf("Send = %d, %v; want 3 attempts and an error", attempts, err)
	}
}

func TestSendTimeoutPerAttempt(t *testing.T) {
	rc := &receiver{delay: 5 * time.Second}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s := sender(t, Config{URL: srv.URL, Timeout: 50 * time.Millisecond, Retries: retries(1), Backoff: time.Millisecond})
	start := time.Now()
	attempts, err := s.Send(context.Background(), "e", "id", alert{})
	took := time.Since(start)
	if attempts != 2 || rc.count() != 2 || err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("Send = %d, %v after %d requests; want 2 timed-out attempts", attempts, err, rc.count())
	}
	if took > 2*time.Second {
		t.Errorf("Send took %s; each attempt should end after the 50ms timeout", took)
	}
}

func TestSendStopsDuringBackoff(t *testing.T) {
	rc := &receiver{statuses: []int{503, 503}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	settings, err := Config{URL: srv.URL, Backoff: time.Hour}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	// The "retrying" line is logged after the first answer was read and
	// before the wait: cancelling once it is seen hits the wait, never the
	// request (cancelling when the receiver saw the request could cut the
	// first attempt short).
	core, logs := observer.New(zap.DebugLevel)
	s := NewSender(settings, nil, "hardtls-test", zap.New(core))
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		attempts int
		err      error
	}
	done := make(chan result)
	go func() {
		n, err := s.Send(ctx, "e", "id", alert{})
		done <- result{n, err}
	}()
	for deadline := time.Now().Add(5 * time.Second); logs.FilterMessage("webhook delivery failed; retrying").Len() == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case r := <-done:
		if r.attempts != 1 || r.err == nil || !strings.Contains(r.err.Error(), "receiver answered 503 Service Unavailable (then context canceled)") {
			t.Errorf("Send = %d, %v; want 1 attempt, then canceled", r.attempts, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send did not return while waiting to retry")
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	var mu sync.Mutex
	var hits []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits = append(hits, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusFound)
		}
	}))
	defer srv.Close()
	s, err := Config{URL: srv.URL + "/old"}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	// Even with a client that follows redirects.
	attempts, err := NewSender(s, srv.Client(), "hardtls-test", nil).Send(context.Background(), "e", "id", alert{})
	mu.Lock()
	defer mu.Unlock()
	if attempts != 1 || len(hits) != 1 || hits[0] != "POST /old" || err == nil || !strings.Contains(err.Error(), `receiver redirects (302 Found) to "/new"`) {
		t.Errorf("Send = %d, %v, requests %v; want one POST /old, not followed", attempts, err, hits)
	}
}

func TestConfig(t *testing.T) {
	s, err := Config{URL: "https://alerts.example/hook"}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if s.Timeout != DefaultTimeout || s.Retries != DefaultRetries || s.Backoff != DefaultBackoff || len(s.Secret) != 0 {
		t.Errorf("defaults: %+v", s)
	}
	if s, _ := (Config{URL: "https://a.example", Retries: retries(0)}).Resolve(); s.Retries != 0 {
		t.Errorf("retries 0 became %d", s.Retries)
	}
	for _, tc := range []struct {
		cfg     Config
		errPart string
	}{
		{Config{}, `url = "": is required`},
		{Config{URL: "alerts.example/hook"}, `url = "alerts.example/hook": has no http:// or https:// scheme; fix: write it as https://alerts.example/hook`},
		{Config{URL: "ftp://alerts.example/hook"}, "has no http:// or https:// scheme; fix: write it as https://alerts.example/hook"},
		{Config{URL: "https:///hook"}, "has no host"},
		{Config{URL: "{env.HARDTLS_WEBHOOK_UNSET_URL}"}, `url = "{env.HARDTLS_WEBHOOK_UNSET_URL}": `},
		{Config{URL: "https://a.example", Timeout: -1}, `timeout = "-1ns": is negative`},
		{Config{URL: "https://a.example", Backoff: -1}, `backoff = "-1ns": is negative`},
		{Config{URL: "https://a.example", Retries: retries(-1)}, "retries = -1: is out of range; fix: write 0 to 20"},
		{Config{URL: "https://a.example", Retries: retries(21)}, "retries = 21: is out of range"},
	} {
		s, err := tc.cfg.Resolve()
		if err == nil {
			err = s.Check()
		}
		if err == nil || !strings.Contains(err.Error(), tc.errPart) {
			t.Errorf("%+v: error %v; want one containing %q", tc.cfg, err, tc.errPart)
		}
	}
	_, err = Config{URL: "https://a.example", Secret: "{env.HARDTLS_WEBHOOK_UNSET_SECRET}"}.Resolve()
	if err == nil || !strings.HasPrefix(err.Error(), "secret = (not shown): ") || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("a secret from an unset variable must be refused, not sign with an empty key: %v", err)
	}
	if err := CheckURL("{env.HARDTLS_WEBHOOK}"); err != nil {
		t.Errorf("a URL with placeholders is checked when they are replaced, got %v", err)
	}
}

func TestSign(t *testing.T) {
	// RFC 4231 test case 2.
	got := Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	if want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}
