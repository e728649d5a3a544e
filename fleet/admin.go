package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
)

func init() {
	caddy.RegisterModule(adminAPI{})
}

// adminAPI serves the fleet view on Caddy's admin endpoint:
//
//	GET /fleet/   the view of the last round, as JSON
//
// It is read-only and holds no key material.
type adminAPI struct{}

// CaddyModule returns the Caddy module information.
func (adminAPI) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.fleet",
		New: func() caddy.Module { return new(adminAPI) },
	}
}

// Routes returns the admin routes of the fleet app.
func (adminAPI) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/fleet/", Handler: caddy.AdminHandlerFunc(serveAdmin)}}
}

// serveAdmin finds the running config's fleet app; admin modules are
// rebuilt before the apps of each config, so they cannot keep one.
func serveAdmin(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return caddy.APIError{
			HTTPStatus: http.StatusMethodNotAllowed,
			Err:        fmt.Errorf("method %s not allowed; the fleet API is read-only, use GET", r.Method),
		}
	}
	if r.URL.Path != "/fleet/" {
		return caddy.APIError{HTTPStatus: http.StatusNotFound, Err: fmt.Errorf("no such fleet path %q; use /fleet/", r.URL.Path)}
	}
	v, err := caddy.ActiveContext().AppIfConfigured("fleet")
	if err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, caddy.ErrNotConfigured) {
			status = http.StatusNotFound
			err = fmt.Errorf("the fleet app is not configured; add the fleet global option to the Caddyfile or a \"fleet\" app to the JSON config")
		}
		return caddy.APIError{HTTPStatus: status, Err: err}
	}
	app, ok := v.(*App)
	if !ok {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: fmt.Errorf("fleet app has type %T", v)}
	}
	body, err := json.MarshalIndent(app.currentView(), "", "\t")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, err = w.Write(append(body, '\n'))
	return err
}

// Interface guards
var _ caddy.AdminRouter = (*adminAPI)(nil)
