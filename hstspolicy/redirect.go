package hstspolicy

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/caddyhosts"
	"github.com/hardtls/caddy-hardtls/internal/strictjson"
)

func init() {
	caddy.RegisterModule(Redirect{})
}

// Redirect answers requests that did not reach the client over HTTPS with a
// permanent redirect to the same URL over HTTPS, and can never be made to
// redirect anywhere else: the Location's host must be on an allow-list.
// A request whose host is malformed gets 400 and one whose host is not
// allowed gets 421 (Misdirected Request), both without a Location; each
// refusal is counted by reason and logged at debug level, since the host
// is the client's choice.
//
// It replaces Caddy's automatic HTTP→HTTPS redirect, which reflects any
// Host header and drops a non-default HTTPS port: turn that off with the
// global option `auto_https disable_redirects` and serve an `http://` site
// with this handler.
//
// Following hstspreload.org's rule, a plain-HTTP request is always sent to
// HTTPS on the same host first. With CanonicalHost, requests that arrive
// over HTTPS for another allowed host are then redirected to the canonical
// one; put the hsts handler before this one so that redirect carries HSTS.
//
// Requests from a proxy in trusted_proxies count as HTTPS when their
// X-Forwarded-Proto says so (see IsSecure).
type Redirect struct {
	// StatusCode is the redirect status: 308 (Permanent Redirect; keeps
	// the method and body) or 301 (Moved Permanently; some clients turn
	// a POST into a GET). Default: 308.
	StatusCode int `json:"status_code,omitempty"`

	// Hosts lists the host names that may appear in a Location: exact
	// names, IP addresses, or one-label wildcards ("*.example.com").
	// A catch-all "*" is refused.
	// Default: every host name in the host matchers of the http app's
	// HTTPS servers (servers with TLS connection policies), i.e. the
	// site addresses of a Caddyfile.
	Hosts []string `json:"hosts,omitempty"`

	// CanonicalHost, if set, is where requests that arrive over HTTPS for
	// another allowed host are redirected. Plain-HTTP requests still go to
	// HTTPS on their own host first. It must be on Hosts when Hosts is
	// given, and otherwise a site address of one of the config's HTTPS
	// servers (a host matcher of a top-level route).
	// Default: none.
	CanonicalHost string `json:"canonical_host,omitempty"`

	// Port is the HTTPS port written into the Location; it is left out
	// when it is 443. Set it when a proxy or load balancer publishes HTTPS
	// on another port than Caddy listens on.
	// Default: the http app's https_port (443).
	Port int `json:"port,omitempty"`

	canonical string
	portPart  string
	hosts     func() HostList
	refused   refusalCounters
	logger    *zap.Logger
}

// UnmarshalJSON decodes the handler's config, naming the field of a bad
// value by its JSON name, as the hsts handler does.
func (r *Redirect) UnmarshalJSON(b []byte) error {
	type plain Redirect // the fields without this method
	return strictjson.Decode(b, (*plain)(r))
}

// CaddyModule returns the Caddy module information.
func (Redirect) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.https_redirect",
		New: func() caddy.Module { return new(Redirect) },
	}
}

// Provision sets up the redirect: it applies defaults, normalises the
// allow-list, checks that the canonical host is served, and registers
// the refusal counter.
func (rd *Redirect) Provision(ctx caddy.Context) error {
	var httpApp *caddyhttp.App
	if app, err := ctx.AppIfConfigured("http"); err == nil {
		httpApp, _ = app.(*caddyhttp.App)
	}
	return rd.provisionWith(ctx, httpApp)
}

// provisionWith provisions the redirect for the given http app (nil when
// the config has none).
func (rd *Redirect) provisionWith(ctx caddy.Context, httpApp *caddyhttp.App) error {
	rd.logger = ctx.Logger()
	if rd.StatusCode == 0 {
		rd.StatusCode = http.StatusPermanentRedirect
	}
	if rd.CanonicalHost != "" {
		canonical, err := ParseCanonicalHost(rd.CanonicalHost)
		if err != nil {
			return err
		}
		rd.canonical = canonical
	}
	refused, err := newRefusalCounters(ctx.GetMetricsRegistry())
	if err != nil {
		return err
	}
	rd.refused = refused

	port := rd.Port
	if port == 0 && httpApp != nil {
		port = httpApp.HTTPSPort
	}
	if port != 0 && port != 443 {
		rd.portPart = ":" + strconv.Itoa(port)
	}

	if len(rd.Hosts) > 0 {
		hl, err := ParseHostList(rd.Hosts)
		if err != nil {
			return err
		}
		if rd.canonical != "" && !hl.Allows(rd.canonical) {
			return &strictjson.FieldError{Field: "canonical_host", Value: strconv.Quote(rd.CanonicalHost),
				Why: "is not on hosts (" + strings.Join(hl.Patterns(), ", ") + ")",
				Fix: "add it to hosts, or name one of them"}
		}
		rd.hosts = func() HostList { return hl }
		return nil
	}
	if httpApp == nil {
		return &strictjson.FieldError{Field: "hosts", Value: "[]", Why: "is empty and there is no http app to take the HTTPS host names from",
			Fix: "list the host names to redirect to"}
	}
	if rd.canonical != "" {
		sites := SiteNames(httpApp)
		if !sites.Allows(rd.canonical) {
			return &strictjson.FieldError{Field: "canonical_host", Value: strconv.Quote(rd.CanonicalHost),
				Why: "is not a site this config serves over HTTPS (" + strings.Join(sites.Patterns(), ", ") + ")",
				Fix: "name one of those sites, or add a site block for " + rd.canonical}
		}
	}
	// Automatic HTTPS has settled which servers are HTTPS before handlers
	// provision, but subroutes of routes after this one are not loaded
	// yet: read the host names once every handler is, on the first
	// request or when the config runs.
	rd.hosts = sync.OnceValue(func() HostList { return HTTPSHosts(httpApp) })
	whenRunning(ctx, configIsRunning(ctx), rd.started)
	return nil
}

// started logs the default allow-list of the running config.
func (rd *Redirect) started() {
	hl := rd.hosts()
	if hl.Len() == 0 {
		rd.logger.Warn("https_redirect allow-list is empty; every plain-HTTP request will be refused",
			zap.String("fix", "list the host names in hosts, or give the HTTPS sites host names"))
		return
	}
	rd.logger.Info("https_redirect allow-list", zap.Strings("hosts", hl.Patterns()))
}

// Validate ensures the redirect status is a permanent one and the port
// a port.
func (rd *Redirect) Validate() error {
	if err := CheckStatusCode(rd.StatusCode); err != nil {
		return strictjson.InField("status_code", err)
	}
	if rd.Port != 0 {
		if err := CheckPort(rd.Port); err != nil {
			return strictjson.InField("port", err)
		}
	}
	return nil
}

// CheckStatusCode checks a redirect status: 308 or 301, the permanent
// redirects hstspreload.org requires. Errors are *strictjson.FieldError without a
// field.
func CheckStatusCode(code int) error {
	if code != http.StatusPermanentRedirect && code != http.StatusMovedPermanently {
		return &strictjson.FieldError{Value: strconv.Itoa(code), Why: "is not a permanent redirect",
			Fix: "use 308 (keeps the method and body) or 301; hstspreload.org requires a permanent redirect"}
	}
	return nil
}

// CheckPort checks the HTTPS port of the Location. Errors are
// *strictjson.FieldError without a field.
func CheckPort(port int) error {
	if port < 1 || port > 65535 {
		return &strictjson.FieldError{Value: strconv.Itoa(port), Why: "is not a TCP port",
			Fix: "use a port from 1 to 65535, or leave it out for the http app's https_port"}
	}
	return nil
}

// ParseCanonicalHost normalises a canonical_host value: a bare host name
// or IP address. Errors are *strictjson.FieldError naming canonical_host.
func ParseCanonicalHost(s string) (string, error) {
	name, err := NormalizeName(s)
	if err != nil {
		return "", &strictjson.FieldError{Field: "canonical_host", Value: strconv.Quote(s), Why: err.Error(),
			Fix: "write a bare name such as \"example.com\", without scheme or port"}
	}
	return name, nil
}

// ServeHTTP redirects insecure requests, and secure ones for a
// non-canonical host when CanonicalHost is set.
func (rd *Redirect) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	secure := IsSecure(r)
	if secure && rd.canonical == "" {
		return next.ServeHTTP(w, r)
	}
	host, err := NormalizeHost(r.Host)
	if err == nil && !strings.HasPrefix(r.URL.Path, "/") && r.URL.Path != "" {
		err = fmt.Errorf("%w: %q", errTargetNotPath, r.URL.Path)
	}
	if secure {
		if err != nil || host == rd.canonical || !rd.hosts().Allows(host) {
			return next.ServeHTTP(w, r)
		}
		host = rd.canonical
	} else if err == nil && !rd.hosts().Allows(host) {
		err = errHostNotAllowed
	}
	if err != nil {
		rd.refuse(w, r, err)
		return nil
	}
	w.Header().Set("Location", rd.location(host, r))
	w.WriteHeader(rd.StatusCode)
	return nil
}

// location builds https://host[:port]/path?query. The host comes from the
// allow-list check, the path is re-escaped, and the query is the parsed
// request's, which net/http has already cleared of control characters.
func (rd *Redirect) location(host string, r *http.Request) string {
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	var sb strings.Builder
	sb.Grow(len("https://") + len(host) + len(rd.portPart) + len(path) + 1 + len(r.URL.RawQuery))
	sb.WriteString("https://")
	sb.WriteString(host)
	sb.WriteString(rd.portPart)
	sb.WriteString(path)
	if r.URL.RawQuery != "" {
		sb.WriteByte('?')
		sb.WriteString(r.URL.RawQuery)
	}
	return sb.String()
}

// refuse answers without a Location: 421 for a well-formed host that is not
// allowed, 400 for a malformed one. The refusal is counted, and logged at
// debug level only: the host is the client's choice, and an info line per
// request would let any client flood the log.
func (rd *Redirect) refuse(w http.ResponseWriter, r *http.Request, cause error) {
	reason := refusalReason(cause)
	status := http.StatusBadRequest
	if reason == reasonHostNotAllowed {
		status = http.StatusMisdirectedRequest
	}
	rd.refused.inc(reason)
	if c := rd.logger.Check(zap.DebugLevel, "refused https redirect"); c != nil {
		c.Write(zap.String("host", r.Host),
			zap.String("remote_ip", remoteIP(r)),
			zap.Int("status", status),
			zap.String("reason", refusalReasons[reason]),
			zap.String("detail", cause.Error()))
	}
	w.Header().Del("Location")
	w.Header().Set("Connection", "close")
	w.WriteHeader(status)
}

func remoteIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok {
		return ip
	}
	return r.RemoteAddr
}

// Causes of a refusal besides NormalizeHost's.
var (
	errHostNotAllowed = errors.New("host not on the allow-list")
	errTargetNotPath  = errors.New("request target is not a path")
)

// HTTPSHosts collects the host names of every HTTPS server of app: the
// values of host matchers in its routes, nested subroutes included.
// Patterns with placeholders are skipped, since they cannot be checked
// before a request arrives; a catch-all cannot be listed either.
func HTTPSHosts(app *caddyhttp.App) HostList {
	hl := HostList{exact: make(map[string]struct{})}
	for _, hosts := range caddyhosts.HTTPSHosts(app) {
		for _, pattern := range hosts {
			_ = hl.add(pattern) // a pattern that cannot be listed cannot match a valid host either
		}
	}
	return hl
}

// SiteNames collects the site addresses of every HTTPS server of app: the
// host matchers of the servers' top-level routes, which automatic HTTPS
// reads too (and which are loaded before any handler is).
func SiteNames(app *caddyhttp.App) HostList {
	hl := HostList{exact: make(map[string]struct{})}
	for _, srv := range app.Servers {
		if !caddyhosts.IsHTTPS(srv) {
			continue
		}
		for _, route := range srv.Routes {
			for _, pattern := range caddyhosts.RouteHosts(caddyhttp.RouteList{{MatcherSets: route.MatcherSets}}) {
				_ = hl.add(pattern)
			}
		}
	}
	return hl
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Redirect)(nil)
	_ caddy.Validator             = (*Redirect)(nil)
	_ caddyhttp.MiddlewareHandler = (*Redirect)(nil)
)
