package pinreport

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hardtls/caddy-hardtls/internal/adminapi"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// adminAPI serves the inventory on Caddy's admin endpoint:
//
//	GET /pinreport/        the certificates, a page at a time
//	GET /pinreport/<name>  the certificates that serve one name
//
// as JSON, or with ?format=tlsa (zone-file TLSA records; ?port= and
// ?proto= set the owner name, by default the http app's https_port and
// tcp), ?format=okhttp (an OkHttp CertificatePinner) or ?format=android
// (a network security config <pin-set>). Pages hold ?limit= certificates
// (100 by default, at most 1000) after the cursor ?after= (the previous
// page's next), and ?state=, ?issuer_kind= and ?expiring_within= filter
// them. It is read-only and holds no key material.
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.pinreport",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Routes returns the admin routes of pinreport.
func (adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/pinreport/", Handler: caddy.AdminHandlerFunc(serveAdmin)}}
}

// serveAdmin finds the running config's pinreport app; admin modules are
// rebuilt before the apps of each config, so they cannot keep one.
func serveAdmin(w http.ResponseWriter, r *http.Request) error {
	if err := adminapi.CheckMethod(w, r, "/pinreport/"); err != nil {
		return err
	}
	v, err := adminapi.App("pinreport", "add the pinreport global option to the Caddyfile or apps.pinreport to the JSON config")
	if err != nil {
		return err
	}
	app, ok := v.(*App)
	if !ok {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("pinreport app has type %T", v)}
	}
	return app.serveHTTP(w, r)
}

// serveHTTP renders the inventory for one GET request.
func (a *App) serveHTTP(w http.ResponseWriter, r *http.Request) error {
	name := strings.ToLower(strings.TrimPrefix(r.URL.Path, "/pinreport/"))
	if strings.Contains(name, "/") {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no such pinreport path %q; use /pinreport/ or /pinreport/<name>", r.URL.Path)}
	}
	q := r.URL.Query()
	format := q.Get("format")
	port, proto := a.httpsPort(), "tcp"
	if format == "tlsa" {
		if p := q.Get("port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return badRequest(queryError("port", p, "is not a port number from 1 to 65535", "use the port the site is served on, such as 443"))
			}
			port = n
		}
		if p := q.Get("proto"); p != "" {
			if p != "tcp" && p != "udp" {
				return badRequest(queryError("proto", p, "is not tcp or udp", "use tcp, or udp for HTTP/3"))
			}
			proto = p
		}
	}

	pq, err := parsePageQuery(q)
	if err != nil {
		return badRequest(err)
	}
	now := a.now()
	scannedAt, _ := a.state.inv.times()
	var entries []*entry
	rep := Report{GeneratedAt: now, ScannedAt: scannedAt, Name: name}
	if name != "" {
		deadline := now.Add(pq.within)
		for _, e := range a.state.inv.lookupEntries(name, a.lookupFunc()) {
			if pq.matches(e, deadline) {
				entries = append(entries, e)
			}
		}
		if len(entries) == 0 {
			return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no certificate in the cache serves %q (with the filters asked for)", name)}
		}
	} else {
		pg := a.state.inv.page(pq, now)
		entries = pg.entries
		if pg.total >= 0 {
			rep.Total = &pg.total
		}
		if pg.next != nil {
			rep.Next = pg.next.encode()
			next := *r.URL
			nq := next.Query()
			nq.Set("after", rep.Next)
			next.RawQuery = nq.Encode()
			w.Header().Set("Link", "<"+next.RequestURI()+`>; rel="next"`)
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	switch format {
	case "", "json":
		w.Header().Set("Content-Type", "application/json")
		err = a.reporter().writeJSON(bw, rep, entries)
	case "tlsa":
		w.Header().Set("Content-Type", "text/dns; charset=utf-8")
		err = writeTLSA(bw, entries, port, proto, now)
	case "okhttp":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		err = writeOkHttp(bw, entries, a.rules, now)
	case "android":
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		err = writeAndroid(bw, entries, a.rules, now)
	default:
		return badRequest(queryError("format", format, "is not a format", "use json, tlsa, okhttp or android"))
	}
	if err == nil {
		err = bw.Flush()
	}
	return err
}

// reporter renders entries with the app's config.
func (a *App) reporter() reporter {
	r := reporter{thresholds: a.thresholds, rules: a.rules, renewals: a.state.renewals}
	if a.revocation != nil {
		r.inv = a.state.inv
	}
	return r
}

// httpsPort is the port the config serves HTTPS on, the default port of
// the TLSA records: the http app's https_port, 443 unless it says
// otherwise.
func (a *App) httpsPort() int {
	if a.httpApp == nil || a.httpApp.HTTPSPort == 0 {
		return caddyhttp.DefaultHTTPSPort
	}
	return a.httpApp.HTTPSPort
}

func badRequest(err error) error {
	return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: err}
}

// Interface guards
var _ caddy.AdminRouter = (*adminAPI)(nil)
