package pinreport

import (
	"context"
	"errors"
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
	if st := a.state.renewals.status([]string{"a.example"}); st.lastObtained.IsZero() || st.issuerKey != "acme-ca" {
		t.Errorf("status after cert_obtained: %+v", st)
	}
	select {
	case <-a.trigger:
	default:
		t.Error("cert_obtained did not ask for a scan")
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

func TestEventsObserveCachedNames(t *testing.T) {
	tc := newTestCache(t)
	a, _ := testApp(t, tc)
	a.handleEvent(newEvent(t, "cached_managed_cert", map[string]any{"sans": []string{"od.example"}}))
	a.handleEvent(newEvent(t, "cached_unmanaged_cert", map[string]any{"sans": []string{"file.example"}}))
	if names := a.state.observed.list(); len(names) != 2 {
		t.Errorf("observed %v; want both names", names)
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
	if len(got) != 1 || a.state.counts.get(countRevocations) != 1 {
		t.Fatalf("revocation: %d alerts, %d counted", len(got), a.state.counts.get(countRevocations))
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
}
