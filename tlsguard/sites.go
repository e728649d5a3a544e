package tlsguard

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddytls"
)

// site is one host an HTTPS server serves, with the connection policy its
// handshakes select and the source of its HSTS header.
type site struct {
	host string
	// policy is the index of the policy a ClientHello for host selects,
	// -1 when none does (policyErr says why).
	policy    int
	policyErr string
	hsts      hstsPath
}

// anySite names the site of a server whose routes match no host.
const anySite = "*"

// buildSites finds, for every host of the server, the policy its
// handshakes select and its HSTS source.
func buildSites(ctx caddy.Context, srv *caddyhttp.Server, hosts []string) []site {
	if len(hosts) == 0 {
		hosts = []string{anySite}
	}
	route := policyRouter(ctx, srv.TLSConnPolicies)
	out := make([]site, 0, len(hosts))
	for _, host := range hosts {
		s := site{host: host, policy: -1}
		if idx, err := route(host); err != nil {
			s.policyErr = err.Error()
		} else {
			s.policy = idx
		}
		s.hsts = findHSTS(srv.Routes, host)
		out = append(out, s)
	}
	return out
}

// policyRouter returns a function that tells which policy a ClientHello
// for a host selects. It asks Caddy's own selection (the server-level
// config's GetConfigForClient) with a probe ClientHello, since the
// policies' matchers are not exported; matchers that look at more than the
// server name see a generic modern client on an unspecified address.
func policyRouter(ctx caddy.Context, pols caddytls.ConnectionPolicies) func(host string) (int, error) {
	top := pols.TLSConfig(ctx)
	return func(host string) (idx int, err error) {
		defer func() {
			if r := recover(); r != nil {
				idx, err = -1, fmt.Errorf("evaluating the policies' handshake matchers: %v", r)
			}
		}()
		cfg, err := top.GetConfigForClient(probeHello(host))
		if err != nil {
			return -1, err
		}
		for i, cp := range pols {
			if cp.TLSConfig == cfg {
				return i, nil
			}
		}
		return -1, errors.New("the selected TLS config belongs to no policy")
	}
}

// probeHello is a ClientHello for host from a client that supports TLS 1.2
// and 1.3 and the profile's suites and groups.
func probeHello(host string) *tls.ClientHelloInfo {
	sni := host
	switch {
	case host == anySite, net.ParseIP(host) != nil:
		sni = "" // clients send no SNI for IP addresses
	case strings.HasPrefix(host, "*."):
		sni = "tlsguard-probe" + host[1:]
	}
	var suites []uint16
	for _, cs := range tls.CipherSuites() {
		suites = append(suites, cs.ID)
	}
	return &tls.ClientHelloInfo{
		ServerName:        sni,
		CipherSuites:      suites,
		SupportedCurves:   mozillaCurves(),
		SupportedPoints:   []uint8{0},
		SupportedProtos:   []string{"h2", "http/1.1"},
		SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
		SignatureSchemes: []tls.SignatureScheme{
			tls.ECDSAWithP256AndSHA256, tls.PSSWithSHA256, tls.PKCS1WithSHA256,
			tls.ECDSAWithP384AndSHA384, tls.PSSWithSHA384, tls.PKCS1WithSHA384,
		},
		Conn: probeConn{},
	}
}

// probeConn is the connection of a probe ClientHello: it has addresses
// for matchers to read and does nothing else.
type probeConn struct{}

var probeAddr = &net.TCPAddr{IP: net.IPv4zero}

func (probeConn) Read([]byte) (int, error)         { return 0, net.ErrClosed }
func (probeConn) Write([]byte) (int, error)        { return 0, net.ErrClosed }
func (probeConn) Close() error                     { return nil }
func (probeConn) LocalAddr() net.Addr              { return probeAddr }
func (probeConn) RemoteAddr() net.Addr             { return probeAddr }
func (probeConn) SetDeadline(time.Time) error      { return nil }
func (probeConn) SetReadDeadline(time.Time) error  { return nil }
func (probeConn) SetWriteDeadline(time.Time) error { return nil }
