package hstspolicy

import (
	"bufio"
	"io"
	"net"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Canonical forms of the header name (RFC 6797 section 6.1), as a header
// field and as net/http's undeclared-trailer key.
const (
	headerKey  = "Strict-Transport-Security"
	trailerKey = http.TrailerPrefix + headerKey
)

// stsWriter makes a response carry exactly the Strict-Transport-Security
// header it should whoever else wrote to the header map: over HTTPS one
// field, the handler's value (a second one makes browsers use only the
// first, RFC 6797 section 8.1); over plain HTTP none (section 7.2).
//
// The value is installed when the status line is written, not before the
// next handler runs, so no later handler can see it in the map before it
// is sent: net/http clones the map at WriteHeader (HTTP/1 and HTTP/2), and
// the first body write settles it again for servers that encode the
// header only then (HTTP/3).
//
// sts is the backing array of the installed value slice. It is written
// once, when the writer is made, and the writer goes back to the pool only
// while sts still holds want and nothing may write to it after the handler
// returns, so no response ever sends a value another request edited.
type stsWriter struct {
	caddyhttp.ResponseWriterWrapper
	sts  [1]string
	own  []string // the slice this response installs: sts[:], or a copy once sts was edited
	want string   // the value to send; "" with secure false
	// secure says whether the request reached the client over HTTPS.
	secure      bool
	wroteHeader bool // the final status line was written
	bodyStarted bool // a body write, flush or ReadFrom went through
	tainted     bool // a handler wrote into sts: never reuse this writer
	hijacked    bool
}

func newSTSWriter(value string) *stsWriter {
	sw := &stsWriter{sts: [1]string{value}, want: value}
	sw.own = sw.sts[:]
	return sw
}

// settle makes hdr hold this response's Strict-Transport-Security field and
// nothing else: exactly own over HTTPS, none over plain HTTP.
func (sw *stsWriter) settle(hdr http.Header) {
	if !sw.secure {
		delete(hdr, headerKey)
		return
	}
	if sw.own[0] != sw.want {
		// Someone wrote into the slice in place (a header replace op):
		// send a fresh copy and retire this writer.
		sw.tainted = true
		sw.own = []string{sw.want}
	}
	hdr[headerKey] = sw.own
}

// settled reports whether hdr holds exactly this response's field.
func (sw *stsWriter) settled(hdr http.Header) bool {
	if !sw.secure {
		_, ok := hdr[headerKey]
		return !ok
	}
	v := hdr[headerKey]
	return len(v) == 1 && &v[0] == &sw.own[0] && v[0] == sw.want
}

// WriteHeader settles the header and writes the status. Informational
// responses are settled too, since net/http sends the map with them.
func (sw *stsWriter) WriteHeader(status int) {
	if sw.wroteHeader {
		sw.ResponseWriter.WriteHeader(status) // superfluous; let the server log it
		return
	}
	// 101 ends HTTP on the connection; other 1xx are not the response.
	if status >= http.StatusOK || status == http.StatusSwitchingProtocols {
		sw.wroteHeader = true
	}
	sw.settle(sw.ResponseWriter.Header())
	sw.ResponseWriter.WriteHeader(status)
}

// beforeBody writes the status 200 if nothing was written yet, and settles
// the header once more before the first body bytes: a server that sends
// the header map with the body (HTTP/3) must not see an edit made after
// WriteHeader.
func (sw *stsWriter) beforeBody() {
	if sw.bodyStarted {
		return
	}
	sw.bodyStarted = true
	if !sw.wroteHeader {
		sw.WriteHeader(http.StatusOK)
		return
	}
	if hdr := sw.ResponseWriter.Header(); !sw.settled(hdr) {
		sw.settle(hdr)
	}
}

// Write writes the header with status 200 first if nothing was written yet.
func (sw *stsWriter) Write(p []byte) (int, error) {
	sw.beforeBody()
	return sw.ResponseWriter.Write(p)
}

// ReadFrom keeps sendfile and splice paths, after the header is final.
func (sw *stsWriter) ReadFrom(r io.Reader) (int64, error) {
	sw.beforeBody()
	return sw.ResponseWriterWrapper.ReadFrom(r)
}

// FlushError flushes, writing the header first if needed; without it
// http.ResponseController would unwrap past this writer and send the
// headers as they stand.
func (sw *stsWriter) FlushError() error {
	sw.beforeBody()
	return http.NewResponseController(sw.ResponseWriter).Flush()
}

// Flush implements http.Flusher.
func (sw *stsWriter) Flush() { _ = sw.FlushError() }

// Hijack implements http.Hijacker and marks the writer as not reusable.
func (sw *stsWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	sw.hijacked = true
	return http.NewResponseController(sw.ResponseWriter).Hijack()
}

// finish settles the header map for what runs after the handler returns
// (net/http writing a response nothing was written to, a server that
// sends the header with the body or at the end, Caddy's error routes, a
// buffering writer below) and reports whether the writer may be reused.
func (sw *stsWriter) finish(err error) bool {
	if sw.hijacked {
		return false
	}
	hdr := sw.ResponseWriter.Header()
	if !sw.secure {
		// A declared trailer is read from the map after the body, and an
		// undeclared one is sent as such: neither may carry the header.
		delete(hdr, headerKey)
		delete(hdr, trailerKey)
		return true
	}
	if !(sw.wroteHeader && sw.bodyStarted) && !sw.settled(hdr) {
		sw.settle(hdr)
	}
	if sw.tainted {
		return false
	}
	if err != nil || !sendsOnWriteHeader(sw.ResponseWriter) {
		// Code that runs after this handler returns may edit header
		// values in place: Caddy's handle_errors routes, or whatever
		// sends the header late. Hand it a copy of the value, so that
		// it never writes into this pooled writer.
		hdr[headerKey] = []string{sw.want}
	}
	return true
}

// sendsOnWriteHeader reports whether w passes the header map to the server
// as soon as WriteHeader is called, so that nothing edits it after the
// handler returns: w is the server's own writer or a chain of Caddy's
// unbuffered response recorders over it (access logs, metrics). Any other
// wrapper, such as encode's, may hold the status back and send the header
// later.
func sendsOnWriteHeader(w http.ResponseWriter) bool {
	for {
		switch ww := w.(type) {
		case caddyhttp.ResponseRecorder:
			u, ok := ww.(interface{ Unwrap() http.ResponseWriter })
			if ww.Buffered() || !ok {
				return false
			}
			w = u.Unwrap()
		case interface{ Unwrap() http.ResponseWriter }:
			return false
		default:
			return true
		}
	}
}

// Interface guards
var (
	_ http.ResponseWriter = (*stsWriter)(nil)
	_ http.Flusher        = (*stsWriter)(nil)
	_ http.Hijacker       = (*stsWriter)(nil)
	_ io.ReaderFrom       = (*stsWriter)(nil)
)
