package tlsguard

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Handshake telemetry of one HTTP server. It hooks into the TLS configs
// Caddy built, wrapping (never replacing) their callbacks:
//   - GetCertificate sees the ClientHello of every full handshake, after
//     version negotiation (and, with ECH, the decrypted inner ClientHello):
//     the client's best offered version, whether it offers an ML-KEM hybrid
//     group and whether it sends the ECH extension are counted there;
//   - VerifyConnection runs at the end of every handshake, resumptions
//     included, with the negotiated version, suite, key exchange group,
//     HelloRetryRequest and ECH acceptance (in TLS 1.3 before the client's
//     Finished: a client that then rejects the certificate counts as
//     completed and as refused);
//   - the server's ConnState hook sees each TLS connection close; a
//     connection whose handshake failed gives back Go's error when asked to
//     handshake again, which is the only place Go exposes the reason.
// Counters are atomic, in fixed arrays: no lock or allocation per handshake.

// serverStats holds the counters of one HTTP server. It lives in a
// caddy.UsagePool keyed by server name, so counts survive config reloads.
// Its counters are bumped only by its own methods, and read through
// snapshot.
type serverStats struct {
	since      time.Time
	handshakes [numVersionSlots][maxSuiteSlots][2]atomic.Uint64 // [version][suite][resumed]
	hellos     [numVersionSlots]atomic.Uint64                   // by best version offered
	refused    [numReasons]atomic.Uint64
	groups     [numGroupSlots][2]atomic.Uint64 // [negotiated group][hello retry request]
	mlkemHello [2]atomic.Uint64                // full-handshake hellos [offering no ML-KEM hybrid, offering one]
	echHello   atomic.Uint64                   // full-handshake hellos carrying the ECH extension
	echDone    atomic.Uint64                   // completed handshakes that accepted ECH

	// sites holds the counters of each site by host. Entries are added
	// when a config is provisioned and kept while the server is, so a site
	// keeps its counts across reloads.
	sites sync.Map // string -> *siteStats
}

// siteStats counts the completed handshakes of one site (by the server
// name the client asked for) by key exchange kind and ECH acceptance.
type siteStats struct {
	handshakes [numKexKinds][2]atomic.Uint64 // [kex kind][ech accepted]
}

func newServerStats(now time.Time) *serverStats { return &serverStats{since: now} }

// Destruct implements caddy.Destructor; the stats hold no resources.
func (*serverStats) Destruct() error { return nil }

// siteIndex finds the counters of the site a handshake is for. It is
// built once per config load and only read afterwards, so handshakes read
// it without a lock.
type siteIndex map[string]*siteStats

// index returns the counters of hosts (site hosts as the config names
// them: names, *.wildcards, IP addresses, or anySite), creating those that
// do not exist yet.
func (st *serverStats) index(hosts []string) siteIndex {
	ix := make(siteIndex, len(hosts))
	for _, h := range hosts {
		v, _ := st.sites.LoadOrStore(h, new(siteStats))
		ix[h] = v.(*siteStats)
	}
	return ix
}

// lookup returns the counters of the site that serves sni: the site of
// that exact name, else a wildcard one label up, else the catch-all site;
// nil when none does (the handshake counts for the server only).
func (ix siteIndex) lookup(sni string) *siteStats {
	if len(ix) == 0 {
		return nil
	}
	if s, ok := ix[sni]; ok {
		return s
	}
	sni = strings.ToLower(sni) // returns sni itself when it has no upper case
	if s, ok := ix[sni]; ok {
		return s
	}
	if i := strings.IndexByte(sni, '.'); i > 0 {
		if s, ok := ix["*"+sni[i:]]; ok {
			return s
		}
	}
	return ix[anySite]
}

// wrap hooks the stats into a policy's built TLS config; sites are the
// server's sites in this config.
func (st *serverStats) wrap(cfg *tls.Config, sites siteIndex) {
	if getCert := cfg.GetCertificate; getCert != nil {
		cfg.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			st.observeHello(hello)
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
		st.observeHandshake(&cs, sites.lookup(cs.ServerName))
		return nil
	}
}

// observeHello counts the ClientHello of a full handshake.
func (st *serverStats) observeHello(hello *tls.ClientHelloInfo) {
	st.observeVersions(hello.SupportedVersions)
	st.mlkemHello[b2i(offersMLKEM(hello.SupportedCurves))].Add(1)
	if offersECH(hello.Extensions) {
		st.echHello.Add(1)
	}
}

// observeVersions counts a ClientHello by the best version it offers.
func (st *serverStats) observeVersions(versions []uint16) {
	st.hellos[versionSlot(maxVersion(versions))].Add(1)
}

// observeHandshake counts a completed handshake, for site too when not
// nil.
func (st *serverStats) observeHandshake(cs *tls.ConnectionState, site *siteStats) {
	st.handshakes[versionSlot(cs.Version)][suiteSlot(cs.CipherSuite)][b2i(cs.DidResume)].Add(1)
	st.groups[groupSlot(cs.CurveID)][b2i(cs.HelloRetryRequest)].Add(1)
	if cs.ECHAccepted {
		st.echDone.Add(1)
	}
	if site != nil {
		site.handshakes[kexKind(cs.CurveID)][b2i(cs.ECHAccepted)].Add(1)
	}
}

// connState returns the server's ConnState hook: when a TLS connection
// closes without a completed handshake, it counts the refusal by Go's
// error. With ech (ECH is configured), a completed handshake that did not
// accept ECH is also checked for the client's ech_required alert, which
// arrives after the handshake.
func (st *serverStats) connState(ech bool) func(net.Conn, http.ConnState) {
	return func(c net.Conn, state http.ConnState) {
		if state != http.StateClosed {
			return
		}
		if tc, ok := c.(*tls.Conn); ok {
			st.observeClosed(tc, ech)
		}
	}
}

// observeClosed counts the refusal of a closed connection, if any. The
// handshake ran to its end before the connection closed, so asking again
// only returns the stored result: nil, or the error that ended it.
func (st *serverStats) observeClosed(tc *tls.Conn, ech bool) {
	if err := tc.HandshakeContext(context.Background()); err != nil {
		st.observeRefused(err)
		return
	}
	if ech && !tc.ConnectionState().ECHAccepted && echRequired(tc) {
		st.refused[reasonECHRequired].Add(1)
	}
}

// echRequired reports whether the client of a closed connection sent the
// ech_required alert. A client whose ECH the server could not decrypt
// finishes the handshake with the outer ClientHello, to check the retry
// configs the server sent against the public name's certificate, and only
// then aborts with that alert (draft-ietf-tls-esni §6.1.6): the server's
// handshake has succeeded, and the alert ends the first read of the
// connection, which crypto/tls keeps and returns to every later read. The
// connection is closed and its read deadline past, so the read never
// blocks: it returns the kept error, or fails at once.
func echRequired(tc *tls.Conn) bool {
	_ = tc.SetReadDeadline(time.Now())
	var b [1]byte
	_, err := tc.Read(b[:])
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "remote error" && strings.Contains(opErr.Err.Error(), "encrypted client hello required")
}

// observeRefused counts a failed handshake; a version refusal also counts
// the client's best version, since GetCertificate never saw its hello.
func (st *serverStats) observeRefused(err error) {
	reason := refusalReason(err)
	st.refused[reason].Add(1)
	if reason == reasonProtocolVersion {
		if versions, ok := offeredVersions(err.Error()); ok {
			st.observeVersions(versions)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// statsSnapshot is a copy of a server's counters at one moment, what the
// report and the metrics read.
type statsSnapshot struct {
	since      time.Time
	handshakes [numVersionSlots][maxSuiteSlots][2]uint64
	hellos     [numVersionSlots]uint64
	refused    [numReasons]uint64
	groups     [numGroupSlots][2]uint64
	mlkemHello [2]uint64
	echHello   uint64
	echDone    uint64
	sites      map[string]siteSnapshot
}

// echAcceptedShare is the share of completed handshakes that accepted
// ECH.
func (s *statsSnapshot) echAcceptedShare() *float64 { return ratio(s.echDone, s.completed()) }

// siteSnapshot is a copy of a site's counters.
type siteSnapshot [numKexKinds][2]uint64

// snapshot reads the counters of the server and of the sites in hosts.
func (st *serverStats) snapshot(hosts []string) *statsSnapshot {
	s := &statsSnapshot{since: st.since, echHello: st.echHello.Load(), echDone: st.echDone.Load()}
	for v := range numVersionSlots {
		for c := range maxSuiteSlots {
			for r := range 2 {
				s.handshakes[v][c][r] = st.handshakes[v][c][r].Load()
			}
		}
		s.hellos[v] = st.hellos[v].Load()
	}
	for r := range numReasons {
		s.refused[r] = st.refused[r].Load()
	}
	for g := range numGroupSlots {
		for h := range 2 {
			s.groups[g][h] = st.groups[g][h].Load()
		}
	}
	for o := range 2 {
		s.mlkemHello[o] = st.mlkemHello[o].Load()
	}
	s.sites = make(map[string]siteSnapshot, len(hosts))
	for _, h := range hosts {
		var ss siteSnapshot
		if v, ok := st.sites.Load(h); ok {
			for k := range numKexKinds {
				for e := range 2 {
					ss[k][e] = v.(*siteStats).handshakes[k][e].Load()
				}
			}
		}
		s.sites[h] = ss
	}
	return s
}

// completed returns the number of completed handshakes.
func (s *statsSnapshot) completed() uint64 {
	var n uint64
	for g := range numGroupSlots {
		n += s.groups[g][0] + s.groups[g][1]
	}
	return n
}

// ratio returns part/whole, or nil when whole is 0.
func ratio(part, whole uint64) *float64 {
	if whole == 0 {
		return nil
	}
	r := float64(part) / float64(whole)
	return &r
}

// tls13ClientShare is the share of ClientHellos that offer TLS 1.3.
func (s *statsSnapshot) tls13ClientShare() *float64 {
	var total uint64
	for _, n := range s.hellos {
		total += n
	}
	return ratio(s.hellos[slotTLS13], total)
}

// mlkemClientShare is the share of full-handshake ClientHellos that offer
// an ML-KEM hybrid group.
func (s *statsSnapshot) mlkemClientShare() *float64 {
	return ratio(s.mlkemHello[1], s.mlkemHello[0]+s.mlkemHello[1])
}

// postQuantumShare is the share of completed handshakes whose key
// exchange was an ML-KEM hybrid.
func (s *statsSnapshot) postQuantumShare() *float64 {
	var pq uint64
	for g := range numGroupSlots {
		if g == slotX25519MLKEM768 || g == slotSecP256r1MLKEM768 || g == slotSecP384r1MLKEM1024 {
			pq += s.groups[g][0] + s.groups[g][1]
		}
	}
	return ratio(pq, s.completed())
}

// total returns the site's completed handshakes.
func (ss siteSnapshot) total() uint64 {
	var n uint64
	for k := range numKexKinds {
		n += ss[k][0] + ss[k][1]
	}
	return n
}

// postQuantum returns the site's handshakes with an ML-KEM hybrid.
func (ss siteSnapshot) postQuantum() uint64 { return ss[kexPostQuantum][0] + ss[kexPostQuantum][1] }

// echAccepted returns the site's handshakes that accepted ECH.
func (ss siteSnapshot) echAccepted() uint64 {
	var n uint64
	for k := range numKexKinds {
		n += ss[k][1]
	}
	return n
}
