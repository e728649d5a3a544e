package pinreport

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// provisionContext returns a Caddy context with an empty config, enough
// for the app to subscribe and register its metrics.
func provisionContext(t *testing.T) caddy.Context {
	t.Helper()
	ctx, err := caddy.ProvisionContext(&caddy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

func TestProvisionStartStop(t *testing.T) {
	ctx := provisionContext(t)
	a := &App{
		Pins:    map[string][]string{"a.example": {knownPin}},
		Webhook: &Webhook{URL: "http://127.0.0.1:1/hook"},
		client:  &http.Client{},
	}
	if err := a.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if time.Duration(a.ScanInterval) != defaultScanInterval || a.sink == nil || a.sink.sender == nil || len(a.rules) != 1 {
		t.Errorf("after Provision: interval %s, sink %v, rules %v", time.Duration(a.ScanInterval), a.sink, a.rules)
	}
	// The handler is subscribed to the tls app's certificate events.
	ev, err := ctx.App("events")
	if err != nil {
		t.Fatal(err)
	}
	if !ev.(*caddyevents.App).ShouldEmit("cert_obtained") {
		t.Error("nothing subscribed to cert_obtained")
	}
	// The collector is registered: registering another one clashes.
	err = ctx.GetMetricsRegistry().Register(newCollector(a.state.inv, a.state.counts, a.minSeries, nil))
	if _, ok := err.(prometheus.AlreadyRegisteredError); !ok {
		t.Errorf("registering the collector again: %v; want AlreadyRegisteredError", err)
	}

	// A config that runs says what is risky about it; Provision logs
	// nothing, since Caddy may still refuse the config.
	core, logs := observer.New(zap.InfoLevel)
	a.logger = zap.New(core)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if got := logs.FilterMessage("expected pins without a backup").All(); len(got) != 1 || got[0].ContextMap()["host"] != "a.example" {
		t.Errorf("Start logged %v; want the single pin of a.example", logs.All())
	}
	waitFor(t, "the first reconcile", func() bool { at, _ := a.state.inv.times(); return !at.IsZero() })
	done := make(chan error)
	go func() { done <- a.Stop() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Stop did not return")
	}
	if err := a.Cleanup(); err != nil {
		t.Fatal(err)
	}
}

func TestProvisionErrors(t *testing.T) {
	for _, tc := range []struct {
		app     App
		errPart string
	}{
		{App{Pins: map[string][]string{"a.example": {"sha256/AAAA"}}}, `pins["a.example"][0] = "sha256/AAAA": decodes to 3 bytes; a SHA-256 pin is 32 bytes; fix: write the 44-character base64`},
		{App{Webhook: &Webhook{URL: "https://a.example", MinSeverity: "loud"}}, `webhook.min_severity = "loud": is not a severity`},
	} {
		a := tc.app
		err := a.Provision(provisionContext(t))
		if err == nil || !strings.Contains(err.Error(), tc.errPart) {
			t.Errorf("Provision: error %v; want one containing %q", err, tc.errPart)
		}
		a.Cleanup()
	}
}

func TestValidate(t *testing.T) {
	day := caddy.Duration(24 * time.Hour)
	for _, tc := range []struct {
		app     App
		errPart string
	}{
		{App{ScanInterval: caddy.Duration(time.Minute)}, ""},
		{App{ScanInterval: caddy.Duration(10 * time.Millisecond)}, `scan_interval = "10ms": is too short; fix: use 1s or more`},
		{App{ScanInterval: day, WarningBefore: -day}, `warning_before = "-24h0m0s": is negative; fix: `},
		{App{ScanInterval: day, RenewalGrace: -1}, `renewal_grace = "-1ns": is negative; fix: `},
		{App{ScanInterval: day, WarningBefore: 3 * day, CriticalBefore: 14 * day}, `critical_before = "336h0m0s": is not shorter than warning_before (72h0m0s): the critical alert must come after the warning; fix: `},
		{App{ScanInterval: day, WarningBefore: 14 * day, CriticalBefore: 3 * day}, ""},
		{App{ScanInterval: day, Webhook: &Webhook{URL: "alerts.example/hook"}}, "webhook.url = \"alerts.example/hook\": has no http:// or https:// scheme"},
	} {
		a := tc.app
		if a.Webhook != nil {
			a.Webhook.provision()
		}
		err := a.Validate()
		if tc.errPart == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.app, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.errPart) {
			t.Errorf("%+v: error %v; want one containing %q", tc.app, err, tc.errPart)
		}
	}
}
