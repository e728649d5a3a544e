package tlsguard

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"

	"github.com/hardtls/caddy-hardtls/internal/adminapi"
)

// adminPath is where the report is served.
const adminPath = "/tlsguard/"

// adminAPI serves the tlsguard report on Caddy's admin endpoint. Admin
// modules are rebuilt before the apps on every config load, so the app is
// looked up per request.
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.tlsguard",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Routes returns the admin route of the report.
func (adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: adminPath, Handler: caddy.AdminHandlerFunc(serveReport)}}
}

// serveReport answers GET (and HEAD) /tlsguard/ with the report as JSON.
func serveReport(w http.ResponseWriter, r *http.Request) error {
	if err := adminapi.CheckMethod(w, r, adminPath); err != nil {
		return err
	}
	if r.URL.Path != adminPath {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no such tlsguard resource: %s (the report is at %s)", r.URL.Path, adminPath)}
	}
	appIface, err := adminapi.App("tlsguard", "add the tlsguard global option to the Caddyfile or apps.tlsguard to the JSON config")
	if err != nil {
		return err
	}
	app, ok := appIface.(*App)
	if !ok {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("app tlsguard is a %T", appIface)}
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "\t")
	return enc.Encode(app.Report())
}

// Interface guards
var _ caddy.AdminRouter = (*adminAPI)(nil)
