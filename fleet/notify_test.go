package fleet

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/finding"
	"github.com/hardtls/caddy-hardtls/internal/webhook"
	"github.com/hardtls/caddy-hardtls/pinreport"
)

// The pinreport app is the webhook the fleet shares.
var _ webhookOwner = (*pinreport.App)(nil)

// owner is a pinreport app as sharedWebhook sees it.
type owner struct {
	settings webhook.Settings
	ok       bool
}

func (o owner) WebhookSettings() (webhook.Settings, bool) { return o.settings, o.ok }

func TestSharedWebhook(t *testing.T) {
	want := webhook.Settings{URL: "https://alerts.example/hook", Secret: []byte("k"), Timeout: time.Second, Retries: 4, Backoff: time.Second}
	for _, tc := range []struct {
		name string
		app  any
		err  error
		want *webhook.Settings
	}{
		{"no pinreport app", nil, caddy.ErrNotConfigured, nil},
		{"pinreport failed to load", nil, errors.New("loading pinreport app module: bad"), nil},
		{"pinreport without a webhook", owner{}, nil, nil},
		{"pinreport with a webhook", owner{settings: want, ok: true}, nil, &want},
		{"not a webhook owner", struct{}{}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked string
			got := sharedWebhook(func(name string) (any, error) { asked = name; return tc.app, tc.err })
			if asked != "pinreport" {
				t.Errorf("asked for app %q, want pinreport", asked)
			}
			if (got == nil) != (tc.want == nil) || (got != nil && (got.URL != tc.want.URL || got.Retries != tc.want.Retries)) {
				t.Errorf("sharedWebhook = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// hook is a receiver that records deliveries whose signature it checks
// itself.
type hook struct {
	secret []byte
	mu     sync.Mutex
	got    []Alert
	bad    []string
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	mac := hmac.New(sha256.New, h.secret)
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	h.mu.Lock()
	defer h.mu.Unlock()
	var al Alert
	switch err := json.Unmarshal(body, &al); {
	case !hmac.Equal([]byte(r.Header.Get("X-Hardtls-Signature")), []byte(want)):
		h.bad = append(h.bad, "bad signature")
	case err != nil:
		h.bad = append(h.bad, err.Error())
	case r.Header.Get("X-Hardtls-Event") != al.Event || r.Header.Get("X-Hardtls-Delivery") != al.ID:
		h.bad = append(h.bad, "headers do not match the body")
	default:
		h.got = append(h.got, al)
	}
}

// received returns the alerts delivered so far and the problems seen.
func (h *hook) received() ([]Alert, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Alert(nil), h.got...), append([]string(nil), h.bad...)
}

// notifyAll provisions a with a test storage and source and hands al to
// every notifier.
func notifyAll(t *testing.T, a *App, al Alert) {
	t.Helper()
	a.self, a.storage, a.source, a.logger = uuid.NewString(), fileStorage(t), &staticSource{}, zap.NewNop()
	if err := a.provision(); err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Cleanup() })
	for _, n := range a.notifiers {
		if err := n.Notify(context.Background(), al); err != nil {
			t.Errorf("%T: %v", n, err)
		}
	}
}

func TestAlertsGoToTheSharedWebhook(t *testing.T) {
	shared := &hook{secret: []byte("pinreport-secret")}
	sharedSrv := httptest.NewServer(shared)
	defer sharedSrv.Close()
	own := &hook{secret: []byte("fleet-secret")}
	ownSrv := httptest.NewServer(own)
	defer ownSrv.Close()
	settings := webhook.Settings{URL: sharedSrv.URL, Secret: shared.secret, Timeout: time.Second, Retries: 0, Backoff: time.Second}
	al := Alert{ID: "id-1", Event: EventInstanceStale, Severity: finding.Warning, Time: time.Now().UTC(), Message: "stale"}

	t.Run("without a webhook of its own", func(t *testing.T) {
		notifyAll(t, &App{shared: &settings}, al)
		if got, bad := shared.received(); len(got) != 1 || got[0].ID != al.ID || len(bad) > 0 {
			t.Errorf("the pinreport webhook got %+v (problems %v); want the alert", got, bad)
		}
	})
	t.Run("with a webhook of its own", func(t *testing.T) {
		notifyAll(t, &App{Webhook: &Webhook{URL: ownSrv.URL, Secret: string(own.secret)}, shared: &settings}, al)
		got, bad := own.received()
		sharedGot, _ := shared.received()
		if len(got) != 1 || len(bad) > 0 || len(sharedGot) != 1 {
			t.Errorf("own webhook got %d (problems %v), the pinreport webhook %d more; want 1 and 0", len(got), bad, len(sharedGot)-1)
		}
	})
	t.Run("without either", func(t *testing.T) {
		a := &App{}
		notifyAll(t, a, al)
		if len(a.notifiers) != 1 || a.sender != nil {
			t.Errorf("notifiers %v; want the log only", a.notifiers)
		}
	})
}
