package hstspolicy

import (
	"bufio"
	"io"
	"net"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// headerKey is the canonical form of the header name (RFC 6797 section 6.1).
const headerKey = "Strict-Transport-Security"

// stsWriter makes the handler's header the only Strict-Transport-Security
// header of a response: when the status line is written it replaces any
// value a later handler set (a header directive) or copied (a
// reverse_proxy upstream). Duplicates would make browsers ignore the
// policy (RFC 6797 section 8.1).
//
// sts is the per-writer backing array of the header's value slice. It is
// written once, when the writer is made, and the writer is reused only
// while it still holds the wanted value, so no header map ever shares a
// slice that another request writes.
type stsWriter struct {
	caddyhttp.ResponseWriterWrapper
	sts         [1]string
	wroteHeader bool
	hijacked    bool
}

func (sw *stsWriter) values() []string { return sw.sts[:] }

// WriteHeader sets the header, replacing others, and writes the status.
func (sw *stsWriter) WriteHeader(status int) {
	if sw.wroteHeader {
		sw.ResponseWriter.WriteHeader(status) // superfluous; let the server log it
		return
	}
	// Informational responses are not the response; 101 ends HTTP.
	if status < http.StatusOK && status != http.StatusSwitchingProtocols {
		sw.ResponseWriter.WriteHeader(status)
		return
	}
	sw.wroteHeader = true
	sw.ResponseWriter.Header()[headerKey] = sw.values()
	sw.ResponseWriter.WriteHeader(status)
}

// Write writes the header with status 200 first if nothing was written yet.
func (sw *stsWriter) Write(p []byte) (int, error) {
	if !sw.wroteHeader {
		sw.WriteHeader(http.StatusOK)
	}
	return sw.ResponseWriter.Write(p)
}

// ReadFrom keeps sendfile and splice paths, after the header is final.
func (sw *stsWriter) ReadFrom(r io.Reader) (int64, error) {
	if !sw.wroteHeader {
		sw.WriteHeader(http.StatusOK)
	}
	return sw.ResponseWriterWrapper.ReadFrom(r)
}

// FlushError flushes, writing the header first if needed; without it
// http.ResponseController would unwrap past this writer and send the
// headers as they stand.
func (sw *stsWriter) FlushError() error {
	if !sw.wroteHeader {
		sw.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(sw.ResponseWriter).Flush()
}

// Flush implements http.Flusher.
func (sw *stsWriter) Flush() { _ = sw.FlushError() }

// Hijack implements http.Hijacker and marks the writer as not reusable.
func (sw *stsWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	sw.hijacked = true
	return http.NewResponseController(sw.ResponseWriter).Hijack()
}

// Interface guards
var (
	_ http.ResponseWriter = (*stsWriter)(nil)
	_ http.Flusher        = (*stsWriter)(nil)
	_ http.Hijacker       = (*stsWriter)(nil)
	_ io.ReaderFrom       = (*stsWriter)(nil)
)
