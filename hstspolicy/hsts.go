// Package hstspolicy provides the Caddy HTTP handlers that make a site
// HTTPS-only: http.handlers.hsts sends exactly one correct
// Strict-Transport-Security header (RFC 6797) and checks it against the
// hstspreload.org rules when the config loads, and
// http.handlers.https_redirect answers plain-HTTP requests with a redirect
// that can only lead to a host the config serves over HTTPS.
package hstspolicy

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/strictjson"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler sends the Strict-Transport-Security header (RFC 6797) on every
// response to a request that reached the client over HTTPS, including error
// responses and redirects, and removes it from every response to a request
// that did not.
//
// Over HTTPS the response carries exactly one such header, this handler's:
// a value set, added or edited by a later handler (a header directive) or
// copied from a reverse_proxy upstream is replaced when the response is
// written. Over plain HTTP the header is removed whoever set it. The
// handler governs the handlers after it: handle_errors routes run after it
// returns, so put hsts in them too if they can set the header. The header
// value is built once, when the config loads.
//
// With preload, the config is refused unless the header meets
// hstspreload.org's requirements (max-age of at least one year and
// includeSubDomains); preload is never on by default, since entering the
// browsers' preload list is hard to undo.
type Handler struct {
	// MaxAge is how long browsers must remember to use only HTTPS for the
	// host, in seconds or Caddy's duration syntax ("730d"). 0 tells
	// browsers to forget the policy (RFC 6797 section 6.1.1).
	// Default: 63072000 (2 years, Mozilla's recommendation).
	MaxAge *Seconds `json:"max_age,omitempty"`

	// IncludeSubdomains extends the policy to every subdomain of the host.
	// Default: true.
	IncludeSubdomains *bool `json:"include_subdomains,omitempty"`

	// Preload adds the preload directive, consent to be listed in the
	// browsers' HSTS preload list (hstspreload.org). It requires MaxAge of
	// at least 31536000 and IncludeSubdomains. Default: false.
	Preload bool `json:"preload,omitempty"`

	// Ramp optionally serves rising max-ages over time before MaxAge.
	// Default: none (MaxAge from the start).
	Ramp *Ramp `json:"ramp,omitempty"`

	header   Header
	final    string
	schedule schedule
	rampOver *atomic.Bool
	writers  *sync.Pool
	app      *caddyhttp.App
	history  *preloadHistory
	config   any
	logger   *zap.Logger

	// now and running are time.Now and "this config is Caddy's running
	// one" unless a test sets them before Provision.
	now     func() time.Time
	running func() bool
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.hsts",
		New: func() caddy.Module { return new(Handler) },
	}
}

// UnmarshalJSON decodes the handler's config, naming the field of a bad
// value by its path ("max_age", "ramp.stages[1].hold").
func (h *Handler) UnmarshalJSON(b []byte) error {
	type plain Handler // the fields without this method
	aux := struct {
		*plain
		MaxAge json.RawMessage `json:"max_age"`
		Ramp   json.RawMessage `json:"ramp"`
	}{plain: (*plain)(h)}
	if err := strictjson.Decode(b, &aux); err != nil {
		return err
	}
	h.MaxAge, h.Ramp = nil, nil
	if len(aux.MaxAge) > 0 && string(aux.MaxAge) != "null" {
		h.MaxAge = new(Seconds)
		if err := h.MaxAge.UnmarshalJSON(aux.MaxAge); err != nil {
			return strictjson.InField("max_age", err)
		}
	}
	if len(aux.Ramp) > 0 && string(aux.Ramp) != "null" {
		h.Ramp = new(Ramp)
		if err := h.Ramp.UnmarshalJSON(aux.Ramp); err != nil {
			return strictjson.InField("ramp", err)
		}
	}
	return nil
}

// Provision sets up the handler: it applies defaults and builds the
// header values. What it finds about a config that loads (risky max-age,
// preload warnings, the ramp, leaving the preload list) is logged once
// that config runs, never for one refused later.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.now == nil {
		h.now = time.Now
	}
	if h.running == nil {
		h.running = configIsRunning(ctx)
	}
	if h.MaxAge == nil {
		maxAge := Seconds(TwoYears)
		h.MaxAge = &maxAge
	}
	if h.IncludeSubdomains == nil {
		include := true
		h.IncludeSubdomains = &include
	}
	maxAge := int64(*h.MaxAge)
	h.header = Header{MaxAge: &maxAge, IncludeSubDomains: *h.IncludeSubdomains, Preload: h.Preload}
	h.final = h.header.String()
	h.writers = new(sync.Pool)
	h.rampOver = new(atomic.Bool)
	if h.Ramp != nil {
		h.Ramp.provision()
		h.schedule = h.Ramp.compile(*h.IncludeSubdomains)
	}

	if app, err := ctx.AppIfConfigured("http"); err == nil {
		h.app, _ = app.(*caddyhttp.App)
	}
	h.config = ctx.GetMetricsRegistry()
	history, _, err := preloadHistories.LoadOrNew(preloadHistoryKey, newPreloadHistory)
	if err != nil {
		return err
	}
	h.history = history.(*preloadHistory)

	whenRunning(ctx, h.running, h.started)
	return nil
}

// started records what the running config serves in the preload history,
// then logs what describes it.
func (h *Handler) started() {
	h.notePreload()
	for _, is := range RecommendationIssues(h.header) {
		h.logger.Warn("risky hsts max_age",
			zap.String("code", is.Code),
			zap.Int64("max_age", int64(*h.MaxAge)),
			zap.String("detail", is.Message),
			zap.String("fix", is.Fix))
	}
	if h.Preload {
		for _, is := range PreloadIssues(h.header).Warnings() {
			h.logger.Warn("hsts preload warning",
				zap.String("code", is.Code),
				zap.String("detail", is.Message))
		}
	}
	if h.Ramp != nil && len(h.schedule.ends) > 0 {
		h.logger.Info("hsts ramp",
			zap.Time("start", h.Ramp.Start),
			zap.Time("final_from", h.schedule.end()),
			zap.String("final", h.final))
	}
}

// Validate ensures the header is legal and, with preload, meets
// hstspreload.org's requirements.
func (h *Handler) Validate() error {
	if h.Preload {
		var errs []error
		for _, is := range PreloadIssues(h.header).Errors() {
			errs = append(errs, h.preloadError(is))
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
	}
	if h.Ramp != nil {
		if err := h.Ramp.validate(*h.MaxAge); err != nil {
			return err
		}
	}
	return nil
}

// preloadError renders a preload issue of the configured header as an
// error of the config field it comes from.
func (h *Handler) preloadError(is Issue) error {
	ce := &strictjson.FieldError{Field: "max_age", Value: strconv.FormatInt(int64(*h.MaxAge), 10), Fix: is.Fix}
	if strings.Contains(is.Code, "include_sub_domains") {
		ce.Field, ce.Value = "include_subdomains", strconv.FormatBool(*h.IncludeSubdomains)
	}
	ce.Why = "preload is set, and " + is.Message + " (" + is.Code + ")"
	return ce
}

// Cleanup releases the handler's hold on the preload history.
func (h *Handler) Cleanup() error {
	if h.history == nil {
		return nil
	}
	_, err := preloadHistories.Delete(preloadHistoryKey)
	return err
}

// HeaderValue returns the header value served at time t (the final value
// once any ramp is over).
func (h *Handler) HeaderValue(t time.Time) string {
	if v, ok := h.schedule.at(t); ok {
		return v
	}
	return h.final
}

// FinalHeader returns the header the handler serves once any ramp is over.
func (h *Handler) FinalHeader() Header { return h.header }

// value returns the header value to serve now; the clock is read only
// while a ramp is running.
func (h *Handler) value() string {
	if h.schedule.ends == nil || h.rampOver.Load() {
		return h.final
	}
	if v, ok := h.schedule.at(h.now()); ok {
		return v
	}
	h.rampOver.Store(true)
	return h.final
}

// ServeHTTP passes the request on with a writer that settles the header
// when the response is written: the handler's value over HTTPS, none over
// plain HTTP (RFC 6797 section 7.2).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	sw := h.writer(w, IsSecure(r))
	err := next.ServeHTTP(sw, r)
	// When next returns an error, Caddy runs the handle_errors routes (or
	// writes the error status) on w after this returns: finish leaves the
	// header map as they must start from.
	if sw.finish(err) {
		sw.ResponseWriter = nil
		h.writers.Put(sw)
	}
	return err
}

// writer returns a pooled writer for one response.
func (h *Handler) writer(w http.ResponseWriter, secure bool) *stsWriter {
	sw, _ := h.writers.Get().(*stsWriter)
	if sw == nil {
		sw = new(stsWriter)
	}
	want := ""
	if secure {
		want = h.value()
	}
	sw.reset(w, secure, want)
	return sw
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ json.Unmarshaler            = (*Handler)(nil)
	_ json.Unmarshaler            = (*Redirect)(nil)
)
