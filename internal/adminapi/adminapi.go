// Package adminapi holds the rules every hardtls admin endpoint follows
// (/tlsguard/, /pinreport/): they are read-only, answering GET and HEAD
// and refusing any other method with 405 and an Allow header, and they
// look the running config's app up per request (admin modules are rebuilt
// before the apps of each config, so they cannot keep one).
package adminapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
)

// allowed is the Allow header of every hardtls admin endpoint.
const allowed = "GET, HEAD"

// CheckMethod refuses a request that is neither GET nor HEAD: it sets the
// Allow header and returns a 405 APIError naming the endpoint.
func CheckMethod(w http.ResponseWriter, r *http.Request, endpoint string) error {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	w.Header().Set("Allow", allowed)
	return caddy.APIError{
		HTTPStatus: http.StatusMethodNotAllowed,
		Err:        fmt.Errorf("method %s not allowed; %s is read-only: use GET or HEAD", r.Method, endpoint),
	}
}

// App returns the app of the running config, or an APIError: 404 when the
// config has none (howTo says how to add it), 500 when it failed to load.
func App(name, howTo string) (any, error) {
	app, err := caddy.ActiveContext().AppIfConfigured(name)
	switch {
	case errors.Is(err, caddy.ErrNotConfigured):
		return nil, caddy.APIError{HTTPStatus: http.StatusNotFound,
			Err: fmt.Errorf("the %s app is not configured; %s", name, howTo)}
	case err != nil:
		return nil, caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
	}
	return app, nil
}
