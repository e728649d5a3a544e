package tlsguard

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestAdminReportErrors(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
		msg          string
	}{
		{http.MethodPost, "/tlsguard/", http.StatusMethodNotAllowed, "GET, HEAD", "method POST not allowed"},
		{http.MethodDelete, "/tlsguard/", http.StatusMethodNotAllowed, "GET, HEAD", "method DELETE not allowed"},
		{http.MethodPost, "/tlsguard/servers", http.StatusMethodNotAllowed, "GET, HEAD", "method POST not allowed"},
		{http.MethodGet, "/tlsguard/servers", http.StatusNotFound, "", "no such tlsguard resource"},
		// No config is running in this test binary: HEAD gets as far as
		// GET does.
		{http.MethodGet, "/tlsguard/", http.StatusNotFound, "", "the tlsguard app is not configured"},
		{http.MethodHead, "/tlsguard/", http.StatusNotFound, "", "the tlsguard app is not configured"},
	} {
		rec := httptest.NewRecorder()
		err := serveReport(rec, httptest.NewRequest(tc.method, tc.path, nil))
		var apiErr caddy.APIError
		if !errors.As(err, &apiErr) {
			t.Errorf("%s %s: error %v is not an APIError", tc.method, tc.path, err)
			continue
		}
		if apiErr.HTTPStatus != tc.status || !strings.Contains(apiErr.Err.Error(), tc.msg) {
			t.Errorf("%s %s: %d %v, want %d %q", tc.method, tc.path, apiErr.HTTPStatus, apiErr.Err, tc.status, tc.msg)
		}
		if got := rec.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}

func TestAdminRoutes(t *testing.T) {
	routes := adminAPI{}.Routes()
	if len(routes) != 1 || routes[0].Pattern != "/tlsguard/" {
		t.Fatalf("routes %+v", routes)
	}
	if id := (adminAPI{}).CaddyModule().ID; id != "admin.api.tlsguard" {
		t.Fatalf("module ID %s", id)
	}
}
