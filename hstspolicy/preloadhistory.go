package hstspolicy

import (
	"slices"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/caddyhosts"
)

// preloadHistories holds the one preloadHistory of the process. Each hsts
// handler holds a reference from Provision to Cleanup, so the history
// outlives a reload: the new config's handlers take theirs before the old
// config's release.
var preloadHistories = caddy.NewUsagePool()

const preloadHistoryKey = "preload_history"

// preloadHistory remembers, per site host, whether the last running config
// served preload on it, so that a config that stops doing so can say what
// leaving the preload list takes. It lives in memory: after a restart the
// history starts over.
type preloadHistory struct {
	mu    sync.Mutex
	hosts map[string]preloadMark
}

// preloadMark is what one running config served on a host; config
// identifies the config load (its metrics registry).
type preloadMark struct {
	config  any
	preload bool
}

func newPreloadHistory() (caddy.Destructor, error) {
	return &preloadHistory{hosts: make(map[string]preloadMark)}, nil
}

// Destruct implements caddy.Destructor.
func (*preloadHistory) Destruct() error { return nil }

// record notes that config serves preload (or not) on host and reports
// whether an earlier config served preload there. Several handlers of one
// config on one host count as one: preload if any of them sends it.
func (ph *preloadHistory) record(host string, config any, preload bool) (hadPreload bool) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	mark, ok := ph.hosts[host]
	if ok && mark.config == config {
		mark.preload = mark.preload || preload
		ph.hosts[host] = mark
		return false
	}
	ph.hosts[host] = preloadMark{config: config, preload: preload}
	return ok && mark.preload
}

// notePreload records what h serves now on the HTTPS sites that run it
// and logs what leaving the preload list takes on those that served
// preload under an earlier config, and on all of them when max_age is 0.
func (h *Handler) notePreload() {
	if h.history == nil || h.app == nil {
		return
	}
	served, _ := ParseHeader(h.value())
	var dropped []string
	hosts := siteHosts(h.app, h)
	for _, host := range hosts {
		if h.history.record(host, h.config, served.Preload) && !served.Preload {
			dropped = append(dropped, host)
		}
	}
	if len(dropped) == 0 && (*h.MaxAge != 0 || len(hosts) == 0) {
		return
	}
	if len(dropped) == 0 {
		dropped = hosts
	}
	var issues []string
	for _, is := range CheckRemovable(h.final) {
		issues = append(issues, is.Code)
	}
	h.logger.Warn("hsts preload removal",
		zap.Strings("hosts", dropped),
		zap.String("header", h.final),
		zap.Strings("removable_issues", issues),
		zap.String("detail", "a preloaded site leaves the list only through a removal request; browsers keep enforcing HTTPS until a release without the entry reaches them, months later, whatever max-age says"),
		zap.String("fix", "keep serving HTTPS and this header (a max-age, no preload) on every subdomain, request removal at https://hstspreload.org/removal/, and lower max_age only once the removal has shipped"))
}

// siteHosts returns the host patterns of the HTTPS sites whose routes run
// target: the innermost host matcher on the path from a server's routes
// (or error routes) to target, or "*" where no host matcher is on it.
// Handlers are compared by identity, so each hsts handler finds its own.
func siteHosts(app *caddyhttp.App, target *Handler) []string {
	var out []string
	var walk func(routes caddyhttp.RouteList, hosts []string)
	walk = func(routes caddyhttp.RouteList, hosts []string) {
		for _, route := range routes {
			routeHosts := hosts
			if rh := caddyhosts.RouteHosts(caddyhttp.RouteList{{MatcherSets: route.MatcherSets}}); len(rh) > 0 {
				routeHosts = rh
			}
			for _, handler := range route.Handlers {
				switch hd := handler.(type) {
				case *Handler:
					if hd == target {
						out = append(out, cmpOr(routeHosts, "*")...)
					}
				case *caddyhttp.Subroute:
					walk(hd.Routes, routeHosts)
				}
			}
		}
	}
	for _, srv := range app.Servers {
		if !caddyhosts.IsHTTPS(srv) {
			continue
		}
		walk(srv.Routes, nil)
		if srv.Errors != nil {
			walk(srv.Errors.Routes, nil)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// cmpOr returns hosts, or a list of def when hosts is empty.
func cmpOr(hosts []string, def string) []string {
	if len(hosts) == 0 {
		return []string{def}
	}
	return hosts
}
