package pinreport

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

func newEvent(t *testing.T, name string, data map[string]any) caddy.Event {
	t.Helper()
	e, err := caddy.NewEvent(caddy.Context{Context: context.Background()}, name, data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEventsRenewalStatus(t *testing.T) {
	tc := newTestCache(t)
	a, logs := testApp(t, tc)
	h := &EventHandler{app: a}
	ctx := context.Background()

	obtained := newEvent(t, "cert_obtained", map[string]any{"identifier": "a.example", "issuer": "acme-ca", "renewal": true})
	for range 2 { // delivered twice (app and events config): counted once
		if err := h.Handle(ctx, obtained); err != nil {
			t.Fatal(err)
		}
	}
	if a.state.counts.get(countRenewals) != 1 {
		t.Errorf("renewals %d after one renewal event delivered twice, want 1", a.state.counts.get(countRenewals))
	}
	if st := a.state.renewals.status([]string{"a.example"}); st.lastObtained.IsZero() {
		t.Errorf("status after cert_obtained: %+v", st)
	}
	if due := a.state.pending.take(time.Now().Add(time.Hour)); len(due) != 1 || due[0].name != "a.example" {
		t.Errorf("cert_obtained queued %v for lookup; want a.example", due)
	}

	fail := func() {
		t.Helper()
		e := newEvent(t, "cert_failed", map[string]any{
			"identifier": "a.example", "renewal": true, "issuers": []string{"acme-ca"},
			"error": errors.New("connection refused"), "remaining": time.Hour,
		})
		if err := h.Handle(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	fail()
	fail()
	if a.state.counts.get(countRenewalFailures) != 2 {
		t.Errorf("renewal failures %d, want 2", a.state.counts.get(countRenewalFailures))
	}
	alerts := logs.FilterMessage("certificate renewal failed").All()
	if len(alerts) != 1 {
		t.Fatalf("%d renewal failure alerts for one streak, want 1", len(alerts))
	}
	if f := alerts[0].ContextMap(); f["error"] != "connection refused" || f["identifier"] != "a.example" || f["event"] != EventRenewalFailed {
		t.Errorf("alert fields %v", f)
	}
	st := a.state.renewals.status([]string{"a.example"})
	if st.failures != 2 || st.lastError != "connection refused" {
		t.Errorf("status after failures: %+v", st)
	}

	// A success ends the streak; the next failure alerts again.
	h.Handle(ctx, newEvent(t, "cert_obtained", map[string]any{"identifier": "a.example", "renewal": true}))
	fail()
	if n := len(logs.FilterMessage("certificate renewal failed").All()); n != 2 {
		t.Errorf("%d renewal failure alerts after a new streak, want 2", n)
	}

	h.Handle(ctx, newEvent(t, "cert_failed", map[string]any{"identifier": "new.example", "renewal": false, "error": errors.New("rate limited")}))
	if a.state.counts.get(countObtainFailures) != 1 || len(logs.FilterMessage("certificate obtain failed").All()) != 1 {
		t.Errorf("obtain failure: counted %d, logged %d", a.state.counts.get(countObtainFailures), len(logs.FilterMessage("certificate obtain failed").All()))
	}
}

func TestEventsQueueCachedNames(t *testing.T) {
	tc := newTestCache(t)
	a, _ := testApp(t, tc)
	now := time.Now()
	a.handleEvent(newEvent(t, "cached_managed_cert", map[string]any{"sans": []string{"od.example"}}))
	a.handleEvent(newEvent(t, "cached_unmanaged_cert", map[string]any{"sans": []string{"file.example", ""}}))
	// The cache may not hold the certificate yet (cached_unmanaged_cert
	// comes first): the first lookup waits a little.
	if due := a.state.pending.take(now); len(due) != 0 {
		t.Errorf("%v due at once; want a short wait", due)
	}
	due := a.state.pending.take(now.Add(time.Hour))
	if len(due) != 2 {
		t.Fatalf("queued %v; want both names", due)
	}
	// A name whose certificate was not found is looked up again, twice.
	for i := range len(lookupDelays) - 1 {
		a.state.pending.retry(due[0])
		due = a.state.pending.take(now.Add(time.Hour))
		if len(due) != 1 || int(due[0].attempt) != i+1 {
			t.Fatalf("retry %d: %v", i+1, due)
		}
	}
	a.state.pending.retry(due[0])
	if due := a.state.pending.take(now.Add(time.Hour)); len(due) != 0 {
		t.Errorf("looked up again after the last retry: %v", due)
	}
}

func TestEventsRevoked(t *testing.T) {
	ca := newTestCA(t, "revoked")
	tc := newTestCache(t)
	now := time.Now()
	cert := tc.add(t, ca.leaf(t, []string{"r.example"}, now, now.Add(time.Hour), nil))
	a, logs := testApp(t, tc)
	a.handleEvent(newEvent(t, "cert_ocsp_revoked", map[string]any{
		"subjects": []string{"r.example"}, "certificate": cert, "reason": 1, "revoked_at": now,
	}))
	got := logs.FilterMessage("certificate revoked").All()
	if len(got) != 1 || a.state.counts.revokedCount(revocationSourceOCSP) != 1 {
		t.Fatalf("revocation: %d alerts, %d counted", len(got), a.state.counts.revokedCount(revocationSourceOCSP))
	}
	if f := got[0].ContextMap(); f["serial"] != certs.SerialHex(cert.Leaf) || f["identifier"] != "r.example" {
		t.Errorf("revocation alert fields %v", f)
	}
}

func TestEventHandlerWithoutApp(t *testing.T) {
	h := new(EventHandler)
	// Not a Caddy context, and a Caddy context without a pinreport app:
	// nothing to do, and never an error that would abort the event.
	if err := h.Handle(context.Background(), newEvent(t, "cert_obtained", nil)); err != nil {
		t.Error(err)
	}
	if err := h.Handle(caddy.Context{Context: context.Background()}, newEvent(t, "cert_obtained", nil)); err != nil {
		t.Error(err)
	}
	if (EventHandler{}).CaddyModule().ID != "events.handlers.pinreport" {
		t.Error("module ID")
	}
	// Configured in a config without a pinreport app: nothing to feed.
	if err := h.Provision(provisionContext(t)); err != nil || h.app != nil {
		t.Errorf("Provision without a pinreport app: %v, app %v", err, h.app)
	}
}

// TestConfiguredHandlerSubscribesInTime: the tls app announces the
// certificates it loads while it provisions. With the handler wired in
// the events app, the pinreport app hears of them whichever app Caddy
// provisions first; without it, only when the pinreport app comes first.
func TestConfiguredHandlerSubscribesInTime(t *testing.T) {
	ca := newTestCA(t, "early")
	now := time.Now()
	for _, wired := range []bool{true, false} {
		heard := 0
		const loads = 40
		for i := range loads {
			name := fmt.Sprintf("file%d.early.example", i)
			cert := ca.leaf(t, []string{name}, now, now.Add(time.Hour), nil)
			certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
			keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
			if err != nil {
				t.Fatal(err)
			}
			keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
			tlsApp, _ := json.Marshal(map[string]any{"certificates": map[string]any{"load_pem": []map[string]string{{"certificate": string(certPEM), "key": string(keyPEM)}}}})
			apps := caddy.ModuleMap{"tls": tlsApp, "pinreport": json.RawMessage(`{}`)}
			if wired {
				apps["events"] = json.RawMessage(`{"subscriptions": [{"events": ["cached_unmanaged_cert"], "handlers": [{"handler": "pinreport"}]}]}`)
			}
			ctx, err := caddy.ProvisionContext(&caddy.Config{AppsRaw: apps})
			if err != nil {
				t.Fatal(err)
			}
			v, err := ctx.App("pinreport")
			if err != nil {
				t.Fatal(err)
			}
			a := v.(*App)
			for _, n := range a.state.pending.take(now.Add(time.Hour)) {
				if n.name == name {
					heard++
				}
			}
			if err := a.Cleanup(); err != nil {
				t.Fatal(err)
			}
		}
		switch {
		case wired && heard != loads:
			t.Errorf("wired in the events app: heard of %d certificates of %d", heard, loads)
		case !wired && heard == loads:
			// Caddy's order is random, and the tls app is rarely
			// provisioned last: if every certificate was heard of, the
			// test does not show why the handler is wired.
			t.Errorf("not wired: heard of %d certificates of %d; want some missed", heard, loads)
		}
		t.Logf("wired %v: heard of %d certificates of %d", wired, heard, loads)
	}
}
