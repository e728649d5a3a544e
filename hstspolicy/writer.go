package hstspolicy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"reflect"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Canonical forms of the header name (RFC 6797 section 6.1), as a header
// field and as net/http's undeclared-trailer key.
const (
	headerKey  = "Strict-Transport-Security"
	trailerKey = http.TrailerPrefix + headerKey
)

// valueChunk is how many value slots a writer carves out of one
// allocation.
const valueChunk = 32

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
// The installed slice is a slot of the writer's own: whatever edits it in
// place edits this response only. A pooled writer installs the same slot
// again only when the previous response left it intact and nothing can
// write to it after the handler returned (see passesThrough); otherwise it
// takes a fresh slot, one allocation per valueChunk such responses. So no
// response ever sends a value another response edited.
type stsWriter struct {
	caddyhttp.ResponseWriterWrapper
	want     string   // the value to send over HTTPS
	own      []string // the slot installed for this response, or nil
	reusable bool     // own may be installed again for the next response
	chunk    []string // unused slots
	// secure says whether the request reached the client over HTTPS.
	secure      bool
	wroteHeader bool // the final status line was written
	bodyStarted bool // a body write, flush or ReadFrom went through
	hijacked    bool
}

// reset prepares a pooled writer for the next response.
func (sw *stsWriter) reset(w http.ResponseWriter, secure bool, want string) {
	sw.ResponseWriter = w
	sw.secure = secure
	sw.wroteHeader = false
	sw.bodyStarted = false
	if !secure {
		return
	}
	if !sw.reusable || sw.want != want {
		sw.own = nil
	}
	sw.reusable = false
	sw.want = want
}

// slot returns a one-element slice holding want that no other response
// has seen.
func (sw *stsWriter) slot() []string {
	if len(sw.chunk) == 0 {
		sw.chunk = make([]string, valueChunk)
	}
	s := sw.chunk[:1:1]
	sw.chunk = sw.chunk[1:]
	s[0] = sw.want
	return s
}

// settle makes hdr hold this response's Strict-Transport-Security field and
// nothing else: exactly the handler's value over HTTPS, none over plain
// HTTP.
func (sw *stsWriter) settle(hdr http.Header) {
	if !sw.secure {
		delete(hdr, headerKey)
		return
	}
	if sw.own == nil || sw.own[0] != sw.want {
		// No slot yet, or someone wrote into it in place (a header
		// replace op): take a fresh one.
		sw.own = sw.slot()
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
	return len(v) == 1 && sw.own != nil && &v[0] == &sw.own[0] && v[0] == sw.want
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
	// After an error Caddy's error routes edit the map; below a writer
	// that sends late, other code may: the slot stays theirs.
	sw.reusable = err == nil && sw.own[0] == sw.want && passesThrough(sw.ResponseWriter)
	return true
}

// passesThrough reports whether w hands the header map to the server when
// WriteHeader is called and runs no code on it after the handler returns:
// the server's own writer, or Caddy's own wrappers over it that pass
// WriteHeader straight on (unbuffered response recorders, the idle-timeout
// and read-deadline writers). Any other wrapper, such as encode's, may
// hold the status back and touch the map later.
func passesThrough(w http.ResponseWriter) bool {
	for {
		switch ww := w.(type) {
		case caddyhttp.ResponseRecorder:
			if ww.Buffered() {
				return false
			}
		case *caddyhttp.IdleTimeoutWriter, *caddyhttp.ResponseWriterWrapper:
		case interface{ Unwrap() http.ResponseWriter }:
			if !isCaddyType(w, "readDeadlineWriter") {
				return false
			}
		default:
			return true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
}

// isCaddyType reports whether v is a pointer to the caddyhttp type name,
// for the wrappers Caddy does not export.
func isCaddyType(v any, name string) bool {
	t := reflect.TypeOf(v)
	return t.Kind() == reflect.Pointer && t.Elem().Name() == name &&
		t.Elem().PkgPath() == reflect.TypeFor[caddyhttp.ResponseWriterWrapper]().PkgPath()
}

// Interface guards
var (
	_ http.ResponseWriter = (*stsWriter)(nil)
	_ http.Flusher        = (*stsWriter)(nil)
	_ http.Hijacker       = (*stsWriter)(nil)
	_ io.ReaderFrom       = (*stsWriter)(nil)
)
