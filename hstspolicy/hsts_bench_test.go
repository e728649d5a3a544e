package hstspolicy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/headers"
)

// discardWriter is a ResponseWriter that keeps one header map, cleared per
// request, so the benchmarks measure the handlers and not the recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

var writeOK = caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
	w.WriteHeader(http.StatusOK)
	return nil
})

// benchRequest is a request as Caddy's server prepares it for its
// handlers, with a replacer and vars: over TLS when secure, else plain
// HTTP with an X-Forwarded-Proto: https that no trusted proxy sent.
func benchRequest(secure bool) *http.Request {
	r := proxied(false, "https")
	if secure {
		r = tlsRequest()
	}
	ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
	return r.WithContext(ctx)
}

// benchServe runs h on requests until the benchmark ends, the next
// handler writing the status line, and checks the header it left. With
// caddyWriters, the writer is wrapped as Caddy's server wraps it (access
// log recorder, idle-timeout writer).
func benchServe(b *testing.B, h caddyhttp.MiddlewareHandler, secure, caddyWriters bool) {
	r := benchRequest(secure)
	dw := &discardWriter{h: make(http.Header)}
	var w http.ResponseWriter = dw
	if caddyWriters {
		w = caddyhttp.NewResponseRecorder(&caddyhttp.IdleTimeoutWriter{ResponseWriterWrapper: &caddyhttp.ResponseWriterWrapper{ResponseWriter: dw}}, nil, nil)
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(dw.h)
		if err := h.ServeHTTP(w, r, writeOK); err != nil {
			b.Fatal(err)
		}
	}
	if dw.h.Get(headerKey) == "" {
		if _, stock := h.(*headers.Handler); secure || stock {
			b.Fatal("no Strict-Transport-Security header")
		}
	}
}

// BenchmarkHSTS measures the hsts handler on a secure request (the header
// installed), also below the writers Caddy's server adds, and on a
// plain-HTTP one (the header removed).
func BenchmarkHSTS(b *testing.B) {
	h := provisioned(b, new(Handler))
	b.Run("secure", func(b *testing.B) { benchServe(b, h, true, false) })
	b.Run("secure_caddy_writers", func(b *testing.B) { benchServe(b, h, true, true) })
	b.Run("insecure", func(b *testing.B) { benchServe(b, h, false, false) })
}

// BenchmarkHeadersSTS is the stock Caddy way of doing the same job,
// `header Strict-Transport-Security "max-age=63072000; includeSubDomains"`,
// which sets the header whatever the transport.
func BenchmarkHeadersSTS(b *testing.B) {
	h := &headers.Handler{Response: &headers.RespHeaderOps{HeaderOps: &headers.HeaderOps{
		Set: http.Header{headerKey: {"max-age=63072000; includeSubDomains"}},
	}}}
	if err := h.Provision(testContext(b)); err != nil {
		b.Fatal(err)
	}
	b.Run("secure", func(b *testing.B) { benchServe(b, h, true, false) })
	b.Run("secure_caddy_writers", func(b *testing.B) { benchServe(b, h, true, true) })
	b.Run("insecure", func(b *testing.B) { benchServe(b, h, false, false) })
}

// BenchmarkHSTSRamp measures the handler while a ramp is running, when
// the clock is read on every request.
func BenchmarkHSTSRamp(b *testing.B) {
	final := Seconds(TwoYears)
	benchServe(b, provisioned(b, &Handler{MaxAge: &final, Ramp: &Ramp{
		Start:  time.Now(),
		Stages: []Stage{{MaxAge: 300}, {MaxAge: 604800}, {MaxAge: 2592000}},
	}}), true, false)
}

// BenchmarkRedirect measures the https_redirect handler answering a
// plain-HTTP request for an allowed host.
func BenchmarkRedirect(b *testing.B) {
	rd := &Redirect{Hosts: []string{"example.com", "www.example.com"}, Port: 8443}
	if err := rd.Provision(testContext(b)); err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "http://www.example.com/path?q=1", nil)
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		_ = rd.ServeHTTP(w, r, writeOK)
	}
	if w.status != 308 {
		b.Fatalf("status = %d", w.status)
	}
}
