package hstspolicy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func testContext(t testing.TB) caddy.Context {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	return ctx
}

// provisioned returns h provisioned and validated, failing the test on error.
func provisioned(t testing.TB, h *Handler) *Handler {
	t.Helper()
	if err := h.Provision(testContext(t)); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if err := h.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return h
}

func tlsRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
	r.TLS = &tls.ConnectionState{}
	return r
}

func TestHandlerDefaults(t *testing.T) {
	h := provisioned(t, new(Handler))
	if got := h.HeaderValue(time.Now()); got != "max-age=63072000; includeSubDomains" {
		t.Errorf("default header = %q", got)
	}
	if h.Preload {
		t.Error("preload is on by default")
	}
}

func TestHandlerValidate(t *testing.T) {
	year, short, zero := Seconds(OneYear), Seconds(600), Seconds(0)
	off := false
	for _, tc := range []struct {
		name    string
		h       Handler
		wantErr []string
	}{
		{"preload_ok", Handler{MaxAge: &year, Preload: true}, nil},
		{"preload_short", Handler{MaxAge: &short, Preload: true}, []string{"max_age = 600", "header.preloadable.max_age.below_1_year", "fix:"}},
		{"preload_zero", Handler{MaxAge: &zero, Preload: true}, []string{"max_age = 0", "header.preloadable.max_age.zero"}},
		{"preload_no_sub", Handler{MaxAge: &year, Preload: true, IncludeSubdomains: &off}, []string{"include_subdomains = false", "include_sub_domains.missing"}},
		{"preload_both", Handler{MaxAge: &short, Preload: true, IncludeSubdomains: &off}, []string{"below_1_year", "include_sub_domains.missing"}},
		{"removal_switch_ok", Handler{MaxAge: &zero}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			if err := h.Provision(testContext(t)); err != nil {
				t.Fatal(err)
			}
			err := h.Validate()
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted the config")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

func TestHandlerServeHTTP(t *testing.T) {
	h := provisioned(t, new(Handler))
	want := "max-age=63072000; includeSubDomains"

	for _, tc := range []struct {
		name   string
		secure bool
		next   caddyhttp.HandlerFunc
		status int
		values []string
	}{
		{"secure", true, func(w http.ResponseWriter, r *http.Request) error {
			_, err := io.WriteString(w, "ok")
			return err
		}, 200, []string{want}},
		{"plain", false, func(w http.ResponseWriter, r *http.Request) error {
			_, err := io.WriteString(w, "ok")
			return err
		}, 200, nil},
		{"later_set_replaced", true, func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set(headerKey, "max-age=1")
			w.WriteHeader(204)
			return nil
		}, 204, []string{want}},
		{"upstream_added_replaced", true, func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Add(headerKey, "max-age=1")
			w.Header().Add(headerKey, "max-age=2; preload")
			w.WriteHeader(502)
			return nil
		}, 502, []string{want}},
		{"deleted_restored", true, func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Del(headerKey)
			w.WriteHeader(200)
			return nil
		}, 200, []string{want}},
		{"flush_first", true, func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Add(headerKey, "max-age=1")
			return http.NewResponseController(w).Flush()
		}, 200, []string{want}},
		{"read_from", true, func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Add(headerKey, "max-age=1")
			_, err := w.(io.ReaderFrom).ReadFrom(strings.NewReader("body"))
			return err
		}, 200, []string{want}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tlsRequest()
			if !tc.secure {
				r.TLS = nil
			}
			rec := httptest.NewRecorder()
			if err := h.ServeHTTP(rec, r, tc.next); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.status {
				t.Errorf("status = %d, want %d", rec.Code, tc.status)
			}
			if got := rec.Result().Header.Values(headerKey); strings.Join(got, "|") != strings.Join(tc.values, "|") {
				t.Errorf("Strict-Transport-Security = %q, want %q", got, tc.values)
			}
		})
	}
}

// TestHandlerErrorKeepsHeader checks that an error returned before anything
// is written leaves the header in the map for Caddy's error routes, and
// that the writer behind it is not reused.
func TestHandlerErrorKeepsHeader(t *testing.T) {
	h := provisioned(t, new(Handler))
	rec := httptest.NewRecorder()
	boom := errors.New("boom")
	err := h.ServeHTTP(rec, tlsRequest(), caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Del(headerKey)
		return caddyhttp.Error(500, boom)
	}))
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	values := rec.Header().Values(headerKey)
	if len(values) != 1 || values[0] != "max-age=63072000; includeSubDomains" {
		t.Fatalf("header for the error routes = %q", values)
	}
	// A later request must not write into the slice the error routes read.
	rec2 := httptest.NewRecorder()
	_ = h.ServeHTTP(rec2, tlsRequest(), caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header()[headerKey][0] = "tampered"
		return nil
	}))
	if got := rec.Header().Values(headerKey); got[0] != "max-age=63072000; includeSubDomains" {
		t.Errorf("the first response's header changed to %q", got)
	}
}

// TestHandlerTamperedWriterNotReused checks that a writer whose value slice
// a later handler rewrote in place is not handed to the next request.
func TestHandlerTamperedWriterNotReused(t *testing.T) {
	h := provisioned(t, new(Handler))
	tamper := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		vals := w.Header()[headerKey]
		vals[0] = strings.ReplaceAll(vals[0], "63072000", "1") // what `header * replace` does
		return nil
	})
	for range 3 {
		_ = h.ServeHTTP(httptest.NewRecorder(), tlsRequest(), tamper)
	}
	rec := httptest.NewRecorder()
	_ = h.ServeHTTP(rec, tlsRequest(), caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(200)
		return nil
	}))
	if got := rec.Header().Get(headerKey); got != "max-age=63072000; includeSubDomains" {
		t.Errorf("after tampering requests: %q", got)
	}
}

type hijackRecorder struct{ *httptest.ResponseRecorder }

func (hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c1, c2 := net.Pipe()
	c2.Close()
	return c1, nil, nil
}

func TestHandlerHijackedWriterNotReused(t *testing.T) {
	h := provisioned(t, new(Handler))
	var first http.ResponseWriter
	_ = h.ServeHTTP(hijackRecorder{httptest.NewRecorder()}, tlsRequest(), caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		first = w
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return err
	}))
	for range 5 {
		_ = h.ServeHTTP(httptest.NewRecorder(), tlsRequest(), caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			if w == first {
				t.Fatal("a hijacked writer was reused")
			}
			return nil
		}))
	}
}

// TestHandlerInformationalResponse runs the handler behind a real TLS
// server: a 103 Early Hints goes out first, and the final response still
// carries exactly one header, ours.
func TestHandlerInformationalResponse(t *testing.T) {
	h := provisioned(t, new(Handler))
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = h.ServeHTTP(w, r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set(headerKey, "max-age=3")
			_, err := io.WriteString(w, "final")
			return err
		}))
	}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "final" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	if got := resp.Header.Values(headerKey); len(got) != 1 || got[0] != "max-age=63072000; includeSubDomains" {
		t.Errorf("Strict-Transport-Security = %q", got)
	}
}
