package pinreport

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyevents"
	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/internal/revocation"
)

func init() {
	caddy.RegisterModule(EventHandler{})
}

// EventHandler feeds certificate events to the pinreport app. The app
// subscribes one itself, so configuring it is not needed for most
// configs. One configured in the events app makes sure no certificate the
// config loads goes unannounced: Caddy provisions its apps in no set
// order, and when the tls app comes before the pinreport app, it loads
// the config's certificates (and announces them) before the app has
// subscribed. The tls app provisions the events app first, and the events
// app its handlers: this one then provisions the config's pinreport app,
// which subscribes in time. An event handled twice counts once.
type EventHandler struct {
	app *App
}

// CaddyModule returns the Caddy module information.
func (EventHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "events.handlers.pinreport",
		New: func() caddy.Module { return new(EventHandler) },
	}
}

// Provision finds, and provisions if it has not been yet, the pinreport
// app of the config, for a handler configured in the events app. Without
// a pinreport app the handler does nothing.
func (h *EventHandler) Provision(ctx caddy.Context) error {
	if h.app != nil {
		return nil
	}
	v, err := ctx.AppIfConfigured("pinreport")
	switch {
	case errors.Is(err, caddy.ErrNotConfigured):
		return nil
	case err != nil:
		return err
	}
	h.app, _ = v.(*App)
	return nil
}

// Handle records the event; it never aborts it. Events are emitted
// synchronously by certificate management, so the work here is quick:
// the names an event announces are queued, and the app's loop looks them
// up shortly after (the cache may not hold the certificate yet).
func (h *EventHandler) Handle(_ context.Context, e caddy.Event) error {
	if h.app != nil {
		h.app.handleEvent(e)
	}
	return nil
}

// handleEvent updates the renewal status and counters from one event,
// queues the names it announces and raises the alerts it calls for.
func (a *App) handleEvent(e caddy.Event) {
	if a.state == nil || a.state.recent.seen(e.ID().String()) {
		return
	}
	switch e.Name() {
	case "cert_obtained":
		a.certObtained(e)
	case "cert_failed":
		a.certFailed(e)
	case "cert_ocsp_revoked":
		a.certRevoked(e)
	case "cached_managed_cert", "cached_unmanaged_cert":
		sans, _ := e.Data["sans"].([]string)
		a.state.pending.add(sans, a.now())
	}
}

func (a *App) certObtained(e caddy.Event) {
	id, _ := e.Data["identifier"].(string)
	issuer, _ := e.Data["issuer"].(string)
	renewal, _ := e.Data["renewal"].(bool)
	a.state.renewals.obtained(id, e.Timestamp())
	if renewal {
		a.state.counts.inc(countRenewals)
	}
	a.logger.Debug("certificate obtained",
		zap.String("identifier", id),
		zap.String("issuer", issuer),
		zap.Bool("renewal", renewal))
	// certmagic emits cert_obtained before the cache holds the new
	// certificate, and a renewal is announced by no other event.
	a.state.pending.add([]string{id}, a.now())
}

func (a *App) certFailed(e caddy.Event) {
	id, _ := e.Data["identifier"].(string)
	renewal, _ := e.Data["renewal"].(bool)
	errText := eventError(e.Data["error"])
	streak := a.state.renewals.failed(id, errText, e.Timestamp())

	event, sev, msg := EventObtainFailed, SeverityCritical, "certificate obtain failed"
	if renewal {
		a.state.counts.inc(countRenewalFailures)
		event, sev, msg = EventRenewalFailed, SeverityWarning, "certificate renewal failed"
	} else {
		a.state.counts.inc(countObtainFailures)
	}
	if streak > 1 {
		// certmagic retries with backoff; alert on the first failure of
		// a streak, count them all.
		a.logger.Debug(msg+" again", zap.String("identifier", id), zap.Int("consecutive_failures", streak), zap.String("error", errText))
		return
	}
	al := newAlert(event, sev, a.now(), msg)
	al.Identifier, al.Error = id, errText
	if issuers, ok := e.Data["issuers"].([]string); ok {
		al.Detail = "issuers tried: " + strings.Join(issuers, ", ")
	}
	if cur := a.current(id); cur != nil {
		al.Certificate = alertCertificate(&cur.Facts, al.Time)
	}
	a.raise(al)
}

func (a *App) certRevoked(e caddy.Event) {
	cert, ok := e.Data["certificate"].(certmagic.Certificate)
	if ok && cert.Leaf != nil && !a.state.inv.markRevoked(cert.Hash()) {
		return // a CRL or the staple told already
	}
	a.state.counts.revoked(revocationSourceOCSP)
	al := newAlert(EventRevoked, SeverityCritical, a.now(), "certificate revoked")
	al.RevocationSource = revocationSourceOCSP
	if reason, ok := e.Data["reason"].(int); ok {
		al.RevocationReason = revocation.Reason(reason).String()
	}
	if at, ok := e.Data["revoked_at"].(time.Time); ok {
		al.RevokedAt = timeOrNil(at)
	}
	if ok && cert.Leaf != nil {
		facts := certs.NewFacts(&cert, certs.Origin{}, certs.NewInterner())
		al.Certificate = alertCertificate(&facts, al.Time)
		al.Detail = fmt.Sprintf("the OCSP responder says the certificate was revoked (reason %v); certmagic replaces a managed certificate revoked by OCSP itself", e.Data["reason"])
	}
	if subjects, ok := e.Data["subjects"].([]string); ok && len(subjects) > 0 {
		al.Identifier = subjects[0]
	}
	a.raise(al)
}

// current returns the entry an identifier is served with, if any.
func (a *App) current(id string) *entry {
	if found := a.state.inv.lookupEntries(id, a.lookupFunc()); len(found) > 0 {
		return found[0]
	}
	return nil
}

// eventError renders the error of a cert_failed event.
func eventError(v any) string {
	switch err := v.(type) {
	case nil:
		return ""
	case error:
		return err.Error()
	default:
		return fmt.Sprint(err)
	}
}

// Interface guards
var (
	_ caddyevents.Handler = (*EventHandler)(nil)
	_ caddy.Provisioner   = (*EventHandler)(nil)
)
