package tlsguard

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
)

// Reasons a handshake was refused, as far as Go's error tells.
const (
	reasonProtocolVersion = iota
	reasonNoSharedCipher
	reasonNoSharedGroup
	reasonNoSharedALPN
	reasonNoCertificate
	reasonClientCertificate
	reasonClientRejectedCert
	reasonClientAlert
	reasonECHRequired
	reasonNotTLS
	reasonClientClosed
	reasonTimeout
	reasonPolicyDrop
	reasonNoPolicy
	reasonOther
	numReasons
)

var reasonNames = [numReasons]string{
	"protocol_version", "no_shared_cipher", "no_shared_group", "no_shared_alpn",
	"no_certificate", "client_certificate", "client_rejected_certificate", "client_alert", "ech_required",
	"not_tls", "client_closed", "timeout", "policy_drop", "no_policy", "other",
}

// refusal marks an error tlsguard's callback wrappers saw coming from
// Caddy's callbacks, so that the reason survives into the handshake error.
type refusal struct {
	reason int
	err    error
}

func (r refusal) Error() string { return r.err.Error() }
func (r refusal) Unwrap() error { return r.err }

// refusalReason classifies a server handshake error. crypto/tls has few
// typed errors, so most reasons come from its messages (Go 1.26); the
// unit tests pin them with real handshakes.
func refusalReason(err error) int {
	var r refusal
	if errors.As(err, &r) {
		return r.reason
	}
	var rec tls.RecordHeaderError
	if errors.As(err, &rec) {
		return reasonNotTLS
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "remote error" {
		msg := opErr.Err.Error()
		if strings.Contains(msg, "encrypted client hello required") { // alert 121, ech_required
			return reasonECHRequired
		}
		if strings.Contains(msg, "certificate") || strings.Contains(msg, "unknown authority") || strings.Contains(msg, "unknown ca") {
			return reasonClientRejectedCert
		}
		return reasonClientAlert
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) {
		return reasonClientClosed
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return reasonTimeout
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "client offered only unsupported versions"),
		strings.Contains(msg, "client used the legacy version field"),
		strings.Contains(msg, "client offered TLS version older than TLS 1.3"):
		return reasonProtocolVersion
	case strings.Contains(msg, "no cipher suite supported by both"):
		return reasonNoSharedCipher
	case strings.Contains(msg, "no key exchanges supported"), strings.Contains(msg, "no ECDHE curve"),
		strings.Contains(msg, "no supported elliptic curves"):
		return reasonNoSharedGroup
	case strings.Contains(msg, "unsupported application protocols"), strings.Contains(msg, "did not request an application protocol"):
		return reasonNoSharedALPN
	case strings.Contains(msg, "dropping connection"):
		return reasonPolicyDrop
	case strings.Contains(msg, "no server TLS configuration available"):
		return reasonNoPolicy
	case strings.Contains(msg, "client didn't provide a certificate"), strings.Contains(msg, "client certificate"):
		return reasonClientCertificate
	}
	return reasonOther
}

// offeredVersions parses the versions out of crypto/tls's "client offered
// only unsupported versions: [302 301]" (hexadecimal).
func offeredVersions(msg string) ([]uint16, bool) {
	_, list, ok := strings.Cut(msg, "unsupported versions: [")
	if !ok {
		return nil, false
	}
	list, _, ok = strings.Cut(list, "]")
	if !ok {
		return nil, false
	}
	var out []uint16
	for _, f := range strings.Fields(list) {
		v, err := strconv.ParseUint(f, 16, 16)
		if err != nil {
			return nil, false
		}
		out = append(out, uint16(v))
	}
	return out, len(out) > 0
}
