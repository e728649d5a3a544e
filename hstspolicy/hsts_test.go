package hstspolicy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/headers"
)

const wantSTS = "max-age=63072000; includeSubDomains"

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
	t.Cleanup(func() { _ = h.Cleanup() })
	return h
}

func tlsRequest() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
	r.TLS = &tls.ConnectionState{}
	return r
}

// proxied returns a plain-HTTP request as Caddy hands it to handlers:
// with its vars, trusted_proxies' verdict and X-Forwarded-Proto lines.
func proxied(trusted bool, forwardedProto ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://example.com/", nil)
	vars := map[string]any{caddyhttp.TrustedProxyVarKey: trusted}
	r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
	for _, v := range forwardedProto {
		r.Header.Add("X-Forwarded-Proto", v)
	}
	return r
}

func TestHandlerDefaults(t *testing.T) {
	h := provisioned(t, new(Handler))
	if got := h.HeaderValue(time.Now()); got != wantSTS {
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
		{"preload_short", Handler{MaxAge: &short, Preload: true}, []string{"max_age = 600: preload is set", "header.preloadable.max_age.below_1_year", "fix: set max_age to at least 31536000"}},
		{"preload_zero", Handler{MaxAge: &zero, Preload: true}, []string{"max_age = 0: preload is set", "header.preloadable.max_age.zero"}},
		{"preload_no_sub", Handler{MaxAge: &year, Preload: true, IncludeSubdomains: &off}, []string{"include_subdomains = false: preload is set", "include_sub_domains.missing", "fix: turn include_subdomains on"}},
		{"preload_both", Handler{MaxAge: &short, Preload: true, IncludeSubdomains: &off}, []string{"include_subdomains = false", "\nmax_age = 600", "below_1_year", "include_sub_domains.missing"}},
		{"removal_switch_ok", Handler{MaxAge: &zero}, nil},
		{"ramp_no_start", Handler{Ramp: &Ramp{Stages: []Stage{{MaxAge: 300}}}}, []string{`ramp.start = "": is missing; fix: set it to the RFC 3339 time`}},
		{"ramp_to_zero", Handler{MaxAge: &zero, Ramp: &Ramp{Start: time.Now(), Stages: []Stage{{MaxAge: 300}}}}, []string{"max_age = 0: a ramp must lead to a positive max_age; fix: remove the ramp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			if err := h.Provision(testContext(t)); err != nil {
				t.Fatal(err)
			}
			defer h.Cleanup()
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

// clientRecorder records what a client receives: informational responses
// apart, and the final response in its ResponseRecorder, whose header is
// the map as it stood when the server sent it. HTTP/1 and HTTP/2 servers
// send it at WriteHeader (late false); HTTP/3 sends it with the first body
// bytes or when the handler returns (late true).
type clientRecorder struct {
	*httptest.ResponseRecorder
	late    bool
	status  int
	interim []http.Header
}

func (cr *clientRecorder) WriteHeader(status int) {
	if status < http.StatusOK && status != http.StatusSwitchingProtocols {
		if cr.status == 0 { // servers ignore a 1xx after the final status
			cr.interim = append(cr.interim, cr.Header().Clone())
		}
		return
	}
	if cr.status == 0 {
		cr.status = status
	}
	if !cr.late {
		cr.send()
	}
}

// send sends the status line and the header as the map holds them now.
func (cr *clientRecorder) send() {
	if cr.status == 0 {
		cr.status = http.StatusOK
	}
	cr.ResponseRecorder.WriteHeader(cr.status)
}

func (cr *clientRecorder) Write(p []byte) (int, error) {
	cr.send()
	return cr.ResponseRecorder.Write(p)
}

func (cr *clientRecorder) Flush() {
	cr.send()
	cr.ResponseRecorder.Flush()
}

// errorRoute stands for what Caddy does on the server's writer after a
// handler returned an error: handle_errors routes or the bare status.
func errorRoute(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var he caddyhttp.HandlerError
	if errors.As(err, &he) {
		status = he.StatusCode
	}
	w.WriteHeader(status)
}

// TestHandlerHeaderOnEveryPath runs every kind of request through every
// way a response gets written, with the header set, added or edited by the
// next handler, and checks what a client receives: exactly the handler's
// value over HTTPS, no Strict-Transport-Security at all (header or
// trailer) over plain HTTP.
func TestHandlerHeaderOnEveryPath(t *testing.T) {
	h := provisioned(t, new(Handler))
	upstream := func(w http.ResponseWriter) {
		w.Header().Add(headerKey, "max-age=31536000; includeSubDomains") // helmet
		w.Header().Add(headerKey, "max-age=1; preload")
	}
	boom := caddyhttp.Error(http.StatusBadGateway, errors.New("upstream down"))
	paths := []struct {
		name   string
		next   caddyhttp.HandlerFunc
		status int
	}{
		{"write", func(w http.ResponseWriter, r *http.Request) error {
			upstream(w)
			_, err := io.WriteString(w, "body")
			return err
		}, 200},
		{"write_header", func(w http.ResponseWriter, r *http.Request) error {
			upstream(w)
			w.WriteHeader(http.StatusNoContent)
			return nil
		}, 204},
		{"flush", func(w http.ResponseWriter, r *http.Request) error {
			upstream(w)
			w.(http.Flusher).Flush()
			return nil
		}, 200},
		{"flush_error", func(w http.ResponseWriter, r *http.Request) error {
			upstream(w)
			return http.NewResponseController(w).Flush()
		}, 200},
		{"read_from", func(w http.ResponseWriter, r *http.Request) error {
			upstream(w)
			_, err := w.(io.ReaderFrom).ReadFrom(strings.NewReader("body"))
			return err
		}, 200},
		{"nothing_written", func(w http.ResponseWriter, r *http.Request) error {
			upstream(w)
			return nil
		}, 200},
		{"error_before_write", func(w http.ResponseWriter, r *http.Request) error {
			upstream(w)
			return boom
		}, 502},
		{"error_after_write", func(w http.ResponseWriter, r *http.Request) error {
			upstream(w)
			w.WriteHeader(http.StatusOK)
			return boom
		}, 200},
		{"informational_first", func(w http.ResponseWriter, r *http.Request) error {
			upstream(w)
			w.WriteHeader(http.StatusEarlyHints)
			upstream(w)
			_, err := io.WriteString(w, "body")
			return err
		}, 200},
		{"deleted", func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Del(headerKey)
			w.WriteHeader(http.StatusOK)
			return nil
		}, 200},
		{"edited_after_write_header", func(w http.ResponseWriter, r *http.Request) error {
			w.WriteHeader(http.StatusOK)
			if v := w.Header()[headerKey]; len(v) > 0 {
				v[0] = "max-age=1; preload; evil"
			}
			w.Header().Add(headerKey, "max-age=2")
			_, err := io.WriteString(w, "body")
			return err
		}, 200},
		{"undeclared_trailer", func(w http.ResponseWriter, r *http.Request) error {
			_, err := io.WriteString(w, "body")
			w.Header().Set(trailerKey, "max-age=3")
			return err
		}, 200},
		{"declared_trailer", func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Trailer", headerKey)
			_, err := io.WriteString(w, "body")
			w.Header().Set(headerKey, "max-age=4")
			return err
		}, 200},
	}
	requests := []struct {
		name   string
		req    func() *http.Request
		secure bool
	}{
		{"tls", tlsRequest, true},
		{"trusted_proxy_https", func() *http.Request { return proxied(true, "https") }, true},
		{"trusted_proxy_https_upper", func() *http.Request { return proxied(true, " HTTPS ") }, true},
		{"plain", func() *http.Request { return proxied(false) }, false},
		{"forged_forwarded_proto", func() *http.Request { return proxied(false, "https") }, false},
		{"trusted_proxy_http", func() *http.Request { return proxied(true, "http") }, false},
		{"trusted_proxy_ambiguous", func() *http.Request { return proxied(true, "https, http") }, false},
		{"trusted_proxy_two_lines", func() *http.Request { return proxied(true, "https", "https") }, false},
	}
	for _, late := range []bool{false, true} {
		server := "sent_at_write_header"
		if late {
			server = "sent_with_body"
		}
		for _, rq := range requests {
			for _, p := range paths {
				t.Run(server+"/"+rq.name+"/"+p.name, func(t *testing.T) {
					rec := &clientRecorder{ResponseRecorder: httptest.NewRecorder(), late: late}
					err := h.ServeHTTP(rec, rq.req(), p.next)
					if err != nil {
						errorRoute(rec, err)
					}
					rec.send() // the server finishes the response
					resp := rec.Result()
					if resp.StatusCode != p.status {
						t.Errorf("status = %d, want %d", resp.StatusCode, p.status)
					}
					got := resp.Header.Values(headerKey)
					switch {
					case rq.secure && (len(got) != 1 || got[0] != wantSTS):
						t.Errorf("over HTTPS: Strict-Transport-Security = %q, want exactly [%q]", got, wantSTS)
					case !rq.secure && len(got) != 0:
						t.Errorf("over plain HTTP: Strict-Transport-Security = %q, want none", got)
					}
					for _, hdr := range rec.interim {
						got := hdr.Values(headerKey)
						if rq.secure && (len(got) != 1 || got[0] != wantSTS) || !rq.secure && len(got) != 0 {
							t.Errorf("informational response: Strict-Transport-Security = %q", got)
						}
					}
					_, _ = io.ReadAll(resp.Body)
					if tr := resp.Trailer.Values(headerKey); !rq.secure && len(tr) != 0 {
						t.Errorf("over plain HTTP: Strict-Transport-Security trailer %q", tr)
					}
				})
			}
		}
	}
}

// TestHandlerErrorRoutesStartClean checks the header map Caddy's
// handle_errors routes start from: the handler's value alone over HTTPS,
// nothing over plain HTTP. A handle_errors route without hsts of its own
// can still add a header after that; see the README.
func TestHandlerErrorRoutesStartClean(t *testing.T) {
	h := provisioned(t, new(Handler))
	next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set(headerKey, "max-age=1; preload")
		return caddyhttp.Error(http.StatusNotFound, errors.New("nope"))
	})
	for _, tc := range []struct {
		req  *http.Request
		want []string
	}{
		{tlsRequest(), []string{wantSTS}},
		{proxied(false, "https"), nil},
	} {
		rec := httptest.NewRecorder()
		if err := h.ServeHTTP(rec, tc.req, next); err == nil {
			t.Fatal("the error was swallowed")
		}
		if got := rec.Header().Values(headerKey); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("header map for the error routes = %q, want %q", got, tc.want)
		}
		// The error routes' own edits must not reach the pooled writer.
		if v := rec.Header()[headerKey]; len(v) > 0 {
			v[0] = "tampered"
		}
	}
	rec := httptest.NewRecorder()
	_ = h.ServeHTTP(rec, tlsRequest(), writeOK)
	if got := rec.Header().Get(headerKey); got != wantSTS {
		t.Errorf("after an error route edited its map: %q", got)
	}
}

// TestHandlerTamperedWriterNotReused checks that a writer whose value slice
// a handler rewrote in place is not handed to the next request, whether
// the edit came before or after the response was written.
func TestHandlerTamperedWriterNotReused(t *testing.T) {
	h := provisioned(t, new(Handler))
	tamper := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusOK)
		vals := w.Header()[headerKey]
		vals[0] = strings.ReplaceAll(vals[0], "63072000", "1") // what `header * replace` does
		return nil
	})
	for range 3 {
		_ = h.ServeHTTP(httptest.NewRecorder(), tlsRequest(), tamper)
	}
	rec := httptest.NewRecorder()
	_ = h.ServeHTTP(rec, tlsRequest(), writeOK)
	if got := rec.Header().Get(headerKey); got != wantSTS {
		t.Errorf("after tampering requests: %q", got)
	}
}

// bufferingWriter holds the status back until Close, like Caddy's encode
// handler, so the header map is read after the hsts handler returned.
type bufferingWriter struct {
	caddyhttp.ResponseWriterWrapper
	status int
}

func (bw *bufferingWriter) WriteHeader(status int) { bw.status = status }
func (bw *bufferingWriter) close() {
	// What a deferred `header` replace op placed before the buffer does.
	if v := bw.Header()[headerKey]; len(v) > 0 {
		v[0] = v[0] + "; edited late"
	}
	bw.ResponseWriterWrapper.WriteHeader(bw.status)
}

// TestHandlerLateEditStaysInItsResponse runs requests concurrently behind
// a writer that sends the header after the handler returned and edits it
// then: the edit must never reach another request's response (run with
// -race).
func TestHandlerLateEditStaysInItsResponse(t *testing.T) {
	h := provisioned(t, new(Handler))
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			var err error
			for range 200 {
				rec := httptest.NewRecorder()
				bw := &bufferingWriter{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: rec}}
				_ = h.ServeHTTP(bw, tlsRequest(), writeOK)
				bw.close()
				if got := rec.Result().Header.Get(headerKey); got != wantSTS+"; edited late" && err == nil {
					err = errors.New("a late edit reached another response: " + got)
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
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

// TestHandlerAllocs counts the allocations of both paths once the pool is
// warm: none over plain HTTP or HTTPS, and one chunk of value slots per
// valueChunk responses behind a writer that may send the header late. The
// count is process-wide, as testing.AllocsPerRun counts, so a few
// allocations of the runtime's own are allowed.
func TestHandlerAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	h := provisioned(t, new(Handler))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const background = 4
	plain := &discardWriter{h: make(http.Header)}
	late := &bufferingWriter{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: plain}}
	for _, tc := range []struct {
		name string
		w    http.ResponseWriter
		r    *http.Request
		max  uint64
	}{
		{"secure", plain, benchRequest(true), background},
		{"insecure", plain, benchRequest(false), background},
		{"secure_behind_late_writer", late, benchRequest(true), runs/valueChunk + background},
	} {
		serve := func() {
			clear(plain.h)
			_ = h.ServeHTTP(tc.w, tc.r, writeOK)
		}
		serve() // warm the pool
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range runs {
			serve()
		}
		runtime.ReadMemStats(&after)
		if n := after.Mallocs - before.Mallocs; n > tc.max {
			t.Errorf("%s: %d allocations in %d requests, want at most %d", tc.name, n, runs, tc.max)
		}
	}
}

// TestPassesThrough checks which writers below the handler let it keep its
// value slot: Caddy's own pass-through wrappers over the server's writer,
// not a recorder that buffers or a wrapper it does not know.
func TestPassesThrough(t *testing.T) {
	rec := httptest.NewRecorder()
	undecided := caddyhttp.NewResponseRecorder(rec, nil, nil)
	streaming := caddyhttp.NewResponseRecorder(&caddyhttp.IdleTimeoutWriter{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: rec}}, nil, nil)
	streaming.WriteHeader(http.StatusOK)
	buffering := caddyhttp.NewResponseRecorder(rec, new(bytes.Buffer), func(int, http.Header) bool { return true })
	buffering.WriteHeader(http.StatusOK)
	for _, tc := range []struct {
		name string
		w    http.ResponseWriter
		want bool
	}{
		{"server_writer", rec, true},
		{"wrapper", &caddyhttp.ResponseWriterWrapper{ResponseWriter: rec}, true},
		{"recorder_and_idle_timeout_writer", streaming, true},
		{"recorder_before_write_header", undecided, false},
		{"buffering_recorder", buffering, false},
		{"unknown_wrapper", &bufferingWriter{ResponseWriterWrapper: caddyhttp.ResponseWriterWrapper{ResponseWriter: rec}}, false},
	} {
		if got := passesThrough(tc.w); got != tc.want {
			t.Errorf("%s: passesThrough = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// runs is how many requests TestHandlerAllocs counts over.
const runs = 3200

// TestWhenRunning checks that the log callback runs once when the config
// runs, and never for a config whose context ends first.
func TestWhenRunning(t *testing.T) {
	var running atomic.Bool
	calls := make(chan struct{}, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	whenRunning(ctx, running.Load, func() { calls <- struct{}{} })
	time.Sleep(3 * runningPoll)
	if len(calls) != 0 {
		t.Fatal("called before the config ran")
	}
	running.Store(true)
	select {
	case <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("not called once the config ran")
	}

	refused, cancelRefused := context.WithCancel(context.Background())
	done := make(chan struct{})
	whenRunning(refused, func() bool { return false }, func() { close(done) })
	cancelRefused()
	time.Sleep(3 * runningPoll)
	select {
	case <-done:
		t.Fatal("called for a config that never ran")
	default:
	}
	if len(calls) != 0 {
		t.Error("called twice")
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
	if got := resp.Header.Values(headerKey); len(got) != 1 || got[0] != wantSTS {
		t.Errorf("Strict-Transport-Security = %q", got)
	}
}

// TestHandlerWithCaddyHeaderOps chains Caddy's own headers handler after
// hsts with every form of response header operation, including a replace
// on every field, and checks what a client receives.
func TestHandlerWithCaddyHeaderOps(t *testing.T) {
	h := provisioned(t, new(Handler))
	ops := map[string]*headers.RespHeaderOps{
		"set":           {HeaderOps: &headers.HeaderOps{Set: http.Header{headerKey: {"max-age=1"}}}},
		"add":           {HeaderOps: &headers.HeaderOps{Add: http.Header{headerKey: {"max-age=2; preload"}}}},
		"replace_plain": {HeaderOps: &headers.HeaderOps{Replace: map[string][]headers.Replacement{headerKey: {{Search: "includeSubDomains", Replace: "preload; evil"}}}}},
		"replace_regex": {HeaderOps: &headers.HeaderOps{Replace: map[string][]headers.Replacement{headerKey: {{SearchRegexp: `max-age=\d+`, Replace: "max-age=1"}}}}},
		"replace_all":   {HeaderOps: &headers.HeaderOps{Replace: map[string][]headers.Replacement{"*": {{Search: "63072000", Replace: "1"}}}}},
		"delete":        {HeaderOps: &headers.HeaderOps{Delete: []string{headerKey}}, Deferred: true},
		"defer_replace": {HeaderOps: &headers.HeaderOps{Replace: map[string][]headers.Replacement{"*": {{Search: "includeSubDomains", Replace: "preload"}}}}, Deferred: true},
		"defer_set":     {HeaderOps: &headers.HeaderOps{Set: http.Header{headerKey: {"max-age=3"}}}, Deferred: true},
	}
	for name, op := range ops {
		hh := &headers.Handler{Response: op}
		if err := hh.Provision(testContext(t)); err != nil {
			t.Fatal(err)
		}
		body := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			_, err := io.WriteString(w, "ok")
			return err
		})
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error { return hh.ServeHTTP(w, r, body) })
		for _, secure := range []bool{true, false} {
			for _, late := range []bool{false, true} {
				rec := &clientRecorder{ResponseRecorder: httptest.NewRecorder(), late: late}
				if err := h.ServeHTTP(rec, benchRequest(secure), next); err != nil {
					t.Fatal(err)
				}
				rec.send()
				got := rec.Result().Header.Values(headerKey)
				if secure && (len(got) != 1 || got[0] != wantSTS) || !secure && len(got) != 0 {
					t.Errorf("%s, secure %v, sent with body %v: Strict-Transport-Security %q", name, secure, late, got)
				}
			}
		}
	}
}
