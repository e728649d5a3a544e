package tlsguard

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Handshake telemetry of one HTTP server. It hooks into the TLS configs
// Caddy built, wrapping (never replacing) their callbacks:
//   - GetCertificate sees the ClientHello of every full handshake, after
//     version negotiation: the client's best offered version is counted there;
//   - VerifyConnection runs at the end of every handshake, resumptions
//     included, with the negotiated version and suite (in TLS 1.3 before
//     the client's Finished: a client that then rejects the certificate
//     counts as completed and as refused);
//   - the server's ConnState hook sees each TLS connection close; a
//     connection whose handshake failed gives back Go's error when asked to
//     handshake again, which is the only place Go exposes the reason.
// Counters are atomic, in fixed arrays: no lock or allocation per handshake.

// Version slots of the counters.
const (
	slotTLS13 = iota
	slotTLS12
	slotTLS11
	slotTLS10
	slotOtherVersion
	numVersionSlots
)

var versionSlotNames = [numVersionSlots]string{"tls1.3", "tls1.2", "tls1.1", "tls1.0", "other"}

func versionSlot(v uint16) int {
	switch v {
	case tls.VersionTLS13:
		return slotTLS13
	case tls.VersionTLS12:
		return slotTLS12
	case tls.VersionTLS11:
		return slotTLS11
	case tls.VersionTLS10:
		return slotTLS10
	}
	return slotOtherVersion
}

// suiteSlots lists every suite Go implements; a counter slot exists for
// each, plus one for anything else. It is computed once and never changed.
var suiteSlots = func() []uint16 {
	var ids []uint16
	for _, cs := range tls.CipherSuites() {
		ids = append(ids, cs.ID)
	}
	for _, cs := range tls.InsecureCipherSuites() {
		ids = append(ids, cs.ID)
	}
	return ids
}()

// maxSuiteSlots bounds the suite dimension; Go implements 25 suites.
const maxSuiteSlots = 40

func suiteSlot(id uint16) int {
	for i, s := range suiteSlots {
		if s == id {
			return i
		}
	}
	return len(suiteSlots)
}

func suiteSlotName(i int) string {
	if i < len(suiteSlots) {
		return tls.CipherSuiteName(suiteSlots[i])
	}
	return "other"
}

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
	"no_certificate", "client_certificate", "client_rejected_certificate", "client_alert",
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

// serverStats holds the counters of one HTTP server. It lives in a
// caddy.UsagePool keyed by server name, so counts survive config reloads.
type serverStats struct {
	since      time.Time
	handshakes [numVersionSlots][maxSuiteSlots][2]atomic.Uint64
	hellos     [numVersionSlots]atomic.Uint64
	refused    [numReasons]atomic.Uint64
}

func newServerStats(now time.Time) *serverStats { return &serverStats{since: now} }

// Destruct implements caddy.Destructor; the stats hold no resources.
func (*serverStats) Destruct() error { return nil }

// wrap hooks the stats into a policy's built TLS config.
func (st *serverStats) wrap(cfg *tls.Config) {
	if getCert := cfg.GetCertificate; getCert != nil {
		cfg.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			st.observeHello(hello.SupportedVersions)
			cert, err := getCert(hello)
			if err != nil {
				return nil, refusal{reasonNoCertificate, err}
			}
			return cert, nil
		}
	}
	verify := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if verify != nil {
			if err := verify(cs); err != nil {
				return refusal{reasonClientCertificate, err}
			}
		}
		st.observeHandshake(cs.Version, cs.CipherSuite, cs.DidResume)
		return nil
	}
}

// observeHello counts a ClientHello by the best version it offers.
func (st *serverStats) observeHello(versions []uint16) {
	st.hellos[versionSlot(maxVersion(versions))].Add(1)
}

// observeHandshake counts a completed handshake.
func (st *serverStats) observeHandshake(version, suite uint16, resumed bool) {
	r := 0
	if resumed {
		r = 1
	}
	st.handshakes[versionSlot(version)][suiteSlot(suite)][r].Add(1)
}

// connState is the server's ConnState hook: when a TLS connection closes
// without a completed handshake, it counts the refusal by Go's error.
func (st *serverStats) connState(c net.Conn, state http.ConnState) {
	if state != http.StateClosed {
		return
	}
	if tc, ok := c.(*tls.Conn); ok {
		st.observeClosed(tc)
	}
}

// observeClosed counts the refusal of a closed connection, if any. The
// handshake ran to its end before the connection closed, so asking again
// only returns the stored result: nil, or the error that ended it.
func (st *serverStats) observeClosed(tc *tls.Conn) {
	if err := tc.HandshakeContext(context.Background()); err != nil {
		st.observeRefused(err)
	}
}

// observeRefused counts a failed handshake; a version refusal also counts
// the client's hello, which GetCertificate never saw.
func (st *serverStats) observeRefused(err error) {
	reason := refusalReason(err)
	st.refused[reason].Add(1)
	if reason == reasonProtocolVersion {
		if versions, ok := offeredVersions(err.Error()); ok {
			st.observeHello(versions)
		}
	}
}

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

// maxVersion is the best real version offered, ignoring GREASE values
// (RFC 8701: 0x?A?A).
func maxVersion(versions []uint16) uint16 {
	var best uint16
	for _, v := range versions {
		if v&0x0f0f == 0x0a0a {
			continue
		}
		best = max(best, v)
	}
	return best
}
