package adminapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func TestCheckMethod(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		rec := httptest.NewRecorder()
		if err := CheckMethod(rec, httptest.NewRequest(method, "/x/", nil), "/x/"); err != nil || rec.Header().Get("Allow") != "" {
			t.Errorf("%s: %v, Allow %q", method, err, rec.Header().Get("Allow"))
		}
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions, "BREW"} {
		rec := httptest.NewRecorder()
		err := CheckMethod(rec, httptest.NewRequest(method, "/x/", nil), "/x/")
		var apiErr caddy.APIError
		if !errors.As(err, &apiErr) || apiErr.HTTPStatus != http.StatusMethodNotAllowed || !strings.Contains(err.Error(), "method "+method+" not allowed") {
			t.Errorf("%s: %v", method, err)
		}
		if got := rec.Header().Get("Allow"); got != "GET, HEAD" {
			t.Errorf("%s: Allow %q", method, got)
		}
	}
}

func TestAppNotConfigured(t *testing.T) {
	_, err := App("nothing", "add it")
	var apiErr caddy.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatus != http.StatusNotFound || !strings.Contains(err.Error(), "the nothing app is not configured; add it") {
		t.Errorf("%v", err)
	}
}
