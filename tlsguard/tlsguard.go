// Package tlsguard holds every HTTP server of a Caddy config to a TLS
// profile from Mozilla's Server Side TLS guidelines 6.0: it refuses,
// hardens or reports connection policies that fall short, lints the
// certificates Caddy serves, grades each site by SSL Labs' rating guide,
// and counts handshakes by version, suite and refusal reason. The report
// is served at the admin endpoint GET /tlsguard/ and as Prometheus
// metrics.
package tlsguard

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/caddyhosts"
	"github.com/hardtls/caddy-hardtls/internal/strictjson"
)

func init() {
	caddy.RegisterModule(App{})
	caddy.RegisterModule(adminAPI{})
}

// Defaults.
const (
	defaultLintInterval = caddy.Duration(10 * time.Minute)
	// startupWait bounds how long the startup grades wait for
	// certificates that are still being issued.
	startupWait = 2 * time.Minute
)

// statsPool keeps each HTTP server's handshake counters across config
// reloads, keyed by server name.
var statsPool = caddy.NewUsagePool()

// App is the tlsguard app. It holds every TLS connection policy of every
// HTTP server, including the ones Caddy's automatic HTTPS and the
// Caddyfile create, to a TLS profile, and reports on certificates, sites
// and handshakes.
type App struct {
	// Profile is the TLS profile: "modern" (TLS 1.3 only), "intermediate"
	// (TLS 1.2 with the six ECDHE AEAD suites, and TLS 1.3) or "custom"
	// (see Custom), after Mozilla's Server Side TLS guidelines 6.0.
	// Default: intermediate.
	Profile string `json:"profile,omitempty"`

	// Custom defines the custom profile; it is required with profile
	// custom and refused with any other.
	Custom *CustomProfile `json:"custom,omitempty"`

	// Mode says what happens to policies that fall short of the profile.
	// "enforce" refuses the config when a setting the user made violates
	// the profile, listing every violation; settings left to Caddy's
	// defaults get the profile's values where the defaults fall short (a
	// policy that sets nothing, like the catch-all policy the Caddyfile
	// adds, has nothing for the user to fix). "harden" applies the profile
	// to the policies' built TLS configs wherever the user set nothing
	// stricter. Both log each change. "audit" changes nothing and only
	// logs and reports. Default: enforce.
	Mode Mode `json:"mode,omitempty"`

	// LintInterval is how often the served certificates are linted and the
	// sites graded again; changes are logged. The admin report always
	// assesses afresh. Default: 10m.
	LintInterval caddy.Duration `json:"lint_interval,omitempty"`

	// Telemetry turns the handshake counters on or off: completed
	// handshakes by version, suite, key exchange group and Encrypted
	// ClientHello, ClientHellos by what they offer, and refusals by
	// reason, per server and per site. Default: true.
	Telemetry *bool `json:"telemetry,omitempty"`

	// RequireHSTS requires every HTTPS site to send HSTS on every
	// response: from the hsts handler, or from a header directive whose
	// max-age is at least the profile's HSTS minimum (63072000 in
	// Mozilla's guidelines 6.0). Caddy cannot put a handler into every
	// site, so tlsguard checks the routes instead: a site that falls short
	// refuses the config in enforce mode and is an error finding in harden
	// and audit. Default: false.
	RequireHSTS bool `json:"require_hsts,omitempty"`

	profile   Profile
	servers   []*server
	findings  Findings // config findings: policies, and sites under require_hsts
	statsKeys []string
	ctx       caddy.Context
	logger    *zap.Logger
	now       func() time.Time
	hasHTTP   bool
	echNames  []string // public names of the ECH configs; nil without ECH

	// State that changes while the app runs, each part behind its own
	// type (pointers: Caddy copies the zero App to read its module info).
	last  *atomic.Pointer[assessment] // the most recent assessment
	facts *factCache                  // facts of the served certificates
	logs  *logMemory                  // what has been logged
	loop  *watcher                    // the background assessment
}

// server is one HTTPS server of the http app as tlsguard sees it.
type server struct {
	name     string
	policies []PolicyReport
	settings []policySettings
	sites    []site
	stats    *serverStats // nil with telemetry off
}

// hosts returns the hosts of the server's sites, in order.
func (s *server) hosts() []string {
	out := make([]string, len(s.sites))
	for i, site := range s.sites {
		out[i] = site.host
	}
	return out
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "tlsguard",
		New: func() caddy.Module { return new(App) },
	}
}

// UnmarshalJSON decodes the config like Caddy does, naming the field of a
// value that does not decode (a bad lint_interval says so).
func (a *App) UnmarshalJSON(b []byte) error {
	type plain App
	return strictjson.Decode(b, (*plain)(a))
}

// Provision sets up the app: it resolves the profile, checks (and, in
// enforce and harden mode, patches) every connection policy of every HTTPS
// server, finds each site's policy and HSTS source, and hooks the
// handshake counters into the policies' TLS configs. It logs nothing: a
// config refused later would leave misleading lines; Start logs.
func (a *App) Provision(ctx caddy.Context) error {
	a.ctx = ctx
	a.logger = ctx.Logger()
	a.last = new(atomic.Pointer[assessment])
	a.facts = newFactCache(systemRoots())
	a.logs = newLogMemory()
	a.loop = new(watcher)
	if a.now == nil {
		a.now = time.Now
	}
	if a.Profile == "" {
		a.Profile = ProfileIntermediate
	}
	if a.Mode == "" {
		a.Mode = ModeEnforce
	}
	if a.LintInterval == 0 {
		a.LintInterval = defaultLintInterval
	}
	if err := CheckMode(string(a.Mode)); err != nil {
		return err
	}
	if a.LintInterval < caddy.Duration(time.Second) {
		return &strictjson.FieldError{Field: "lint_interval", Value: strictjson.DurationValue(a.LintInterval), Why: "is too short", Fix: "use 1s or more, e.g. 10m"}
	}
	var err error
	if a.profile, err = resolveProfile(a.Profile, a.Custom); err != nil {
		return err
	}

	appIface, err := ctx.AppIfConfigured("http")
	if errors.Is(err, caddy.ErrNotConfigured) {
		return nil // Start says so
	}
	if err != nil {
		// The http app failed to load, and the config with it. Caddy
		// keeps the app's error and reports it when its loop over the
		// apps reaches the http app, as when it loads that app first;
		// returning it here would put "loading tlsguard app module" in
		// front of an error that is not tlsguard's. The config is
		// refused either way, and tlsguard, which never starts, guards
		// nothing.
		return nil
	}
	httpApp := appIface.(*caddyhttp.App)
	a.hasHTTP = true
	a.echNames = echPublicNames(ctx)

	hosts := caddyhosts.HTTPSHosts(httpApp)
	names := make([]string, 0, len(httpApp.Servers))
	for name, srv := range httpApp.Servers {
		if caddyhosts.IsHTTPS(srv) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		a.servers = append(a.servers, a.provisionServer(ctx, name, httpApp.Servers[name], hosts[name]))
	}

	if reg := ctx.GetMetricsRegistry(); reg != nil {
		if err := reg.Register(newCollector(a)); err != nil {
			return fmt.Errorf("registering metrics: %w", err)
		}
	}
	return nil
}

// provisionServer checks and hardens one server's policies, finds its
// sites and hooks its telemetry.
func (a *App) provisionServer(ctx caddy.Context, name string, srv *caddyhttp.Server, hosts []string) *server {
	s := &server{name: name}
	for i, cp := range srv.TLSConnPolicies {
		changes := applyProfile(a.profile, cp, a.Mode)
		a.findings = append(a.findings, checkPolicy(a.profile, name, i, cp)...)
		settings, _ := settingsOf(cp)
		rep := settings.report(i)
		rep.Changes = changes
		s.policies = append(s.policies, rep)
		s.settings = append(s.settings, settings)
	}
	s.sites = buildSites(ctx, srv, hosts)
	if a.RequireHSTS {
		for _, site := range s.sites {
			if why, fix := site.hsts.requirement(a.profile.HSTSMinAge); why != "" {
				a.findings = append(a.findings, Finding{Severity: SeverityError, Code: "site.hsts.required",
					Server: name, Site: site.host, Message: why + " (require_hsts)", Fix: fix})
			}
		}
	}

	if a.Telemetry == nil || *a.Telemetry {
		key := "tlsguard.stats." + name
		st, _, _ := statsPool.LoadOrNew(key, func() (caddy.Destructor, error) {
			return newServerStats(a.now()), nil
		})
		a.statsKeys = append(a.statsKeys, key)
		s.stats = st.(*serverStats)
		sites := s.stats.index(s.hosts())
		for _, cp := range srv.TLSConnPolicies {
			if cp.TLSConfig != nil {
				s.stats.wrap(cp.TLSConfig, sites)
			}
		}
		srv.RegisterConnState(s.stats.connState(a.echNames != nil))
	}
	return s
}

// Validate ensures that, in enforce mode, no connection policy violates
// the profile and, with require_hsts, every site sends HSTS; the error
// lists every violation.
func (a *App) Validate() error {
	if !a.Mode.refuses() {
		return nil
	}
	errs := a.findings.Errors()
	if len(errs) == 0 {
		return nil
	}
	lines := make([]string, len(errs))
	for i, f := range errs {
		lines[i] = fmt.Sprintf("%d. %s", i+1, f)
	}
	return fmt.Errorf("profile %s (mode enforce) refuses %d setting(s) of the config; fix each as it says, or set mode harden (it applies the profile to connection policies) or audit (it only reports):\n%s",
		a.profile.Name, len(errs), strings.Join(lines, "\n"))
}

// Start logs what Provision found and changed (only a config that passed
// validation gets here), and starts the background assessment: the
// startup grades once every site has a grade (every served name its
// certificate), then a re-assessment every LintInterval.
func (a *App) Start() error {
	if !a.hasHTTP {
		a.logger.Info("no http app: tlsguard has no connection policy to guard")
	}
	a.logConfig()
	a.loop.start(a.watch)
	return nil
}

// Stop stops the background assessment.
func (a *App) Stop() error {
	a.loop.stop()
	return nil
}

// Cleanup stops what Provision and Start set up.
func (a *App) Cleanup() error {
	a.loop.stop()
	for _, key := range a.statsKeys {
		_, _ = statsPool.Delete(key)
	}
	a.statsKeys = nil
	return nil
}

// logConfig logs the profile, every change made to a connection policy
// and the policy findings.
func (a *App) logConfig() {
	names := make([]string, len(a.servers))
	for i, srv := range a.servers {
		names[i] = srv.name
		for _, p := range srv.policies {
			for _, c := range p.Changes {
				a.logger.Info("applied profile to connection policy",
					zap.String("server", srv.name), zap.Int("policy", p.Index), zap.String("mode", string(a.Mode)),
					zap.String("field", c.Field), zap.String("from", c.From), zap.String("to", c.To))
			}
		}
	}
	a.logger.Info("tlsguard",
		zap.String("profile", a.profile.Name),
		zap.String("mode", string(a.Mode)),
		zap.Strings("servers", names),
		zap.Int("policy_errors", a.findings.count(SeverityError)),
		zap.Int("policy_warnings", a.findings.count(SeverityWarning)))
	a.logFindings(a.findings)
}

// lastAssessment returns the most recent assessment, or nil.
func (a *App) lastAssessment() *assessment {
	if a.last == nil {
		return nil // not provisioned
	}
	return a.last.Load()
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
