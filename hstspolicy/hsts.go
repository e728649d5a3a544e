// Package hstspolicy provides the Caddy HTTP handlers that make a site
// HTTPS-only: http.handlers.hsts sends exactly one correct
// Strict-Transport-Security header (RFC 6797) and checks it against the
// hstspreload.org rules when the config loads, and
// http.handlers.https_redirect answers plain-HTTP requests with a redirect
// that can only lead to a host the config serves over HTTPS.
package hstspolicy

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler sends the Strict-Transport-Security header (RFC 6797) on every
// response to a request that reached the client over HTTPS, including error
// responses and redirects, and never over plain HTTP.
//
// The response carries exactly one such header, this handler's: a value set
// by a later handler (a header directive) or copied from a reverse_proxy
// upstream is replaced when the response is written. The header value is
// built once, when the config loads.
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
	now      func() time.Time
	writers  *sync.Pool
	logger   *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.hsts",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision sets up the handler: it applies defaults, builds the header
// values and logs findings that do not stop the config.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.now == nil {
		h.now = time.Now
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

	for _, is := range RecommendationIssues(h.header) {
		h.logger.Warn("risky hsts max_age",
			zap.String("code", is.Code),
			zap.Int64("max_age", maxAge),
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
	return nil
}

// Validate ensures the header is legal and, with preload, meets
// hstspreload.org's requirements.
func (h *Handler) Validate() error {
	if h.Preload {
		var msgs []string
		for _, is := range PreloadIssues(h.header).Errors() {
			msgs = append(msgs, h.describe(is))
		}
		if len(msgs) > 0 {
			return fmt.Errorf("preload is set but the header cannot be preloaded: %s", strings.Join(msgs, "; "))
		}
	}
	if h.Ramp != nil {
		if err := h.Ramp.validate(*h.MaxAge); err != nil {
			return err
		}
	}
	return nil
}

// describe renders a preload issue of the configured header with the
// config field it comes from and its fix.
func (h *Handler) describe(is Issue) string {
	field, value := "max_age", fmt.Sprint(*h.MaxAge)
	if strings.Contains(is.Code, "include_sub_domains") {
		field, value = "include_subdomains", fmt.Sprint(*h.IncludeSubdomains)
	}
	return fmt.Sprintf("%s = %s: %s (%s); fix: %s", field, value, is.Message, is.Code, is.Fix)
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

// ServeHTTP sets the header for secure requests and passes the request on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if !IsSecure(r) {
		// RFC 6797 section 7.2: never over non-secure transport.
		return next.ServeHTTP(w, r)
	}
	sw := h.writer(w)
	// Set before next runs, so the header is kept when a later handler
	// returns an error and Caddy's error routes write the response.
	w.Header()[headerKey] = sw.values()
	err := next.ServeHTTP(sw, r)
	if err != nil {
		// The error routes run on Caddy's writer, not sw, and the header
		// map still points into sw; sw is left to the garbage collector.
		if !sw.wroteHeader {
			w.Header()[headerKey] = sw.values()
		}
		return err
	}
	if !sw.hijacked {
		sw.ResponseWriter = nil
		h.writers.Put(sw)
	}
	return nil
}

// writer returns a pooled writer that holds the value to serve now.
func (h *Handler) writer(w http.ResponseWriter) *stsWriter {
	want := h.value()
	sw, _ := h.writers.Get().(*stsWriter)
	if sw == nil || sw.sts[0] != want {
		sw = &stsWriter{sts: [1]string{want}}
	}
	sw.ResponseWriter = w
	sw.wroteHeader = false
	sw.hijacked = false
	return sw
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
