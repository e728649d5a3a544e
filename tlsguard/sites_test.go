package tlsguard

import (
	"crypto/tls"
	"testing"
)

func TestProbeHello(t *testing.T) {
	for host, sni := range map[string]string{
		"example.com":   "example.com",
		"*.example.com": "tlsguard-probe.example.com",
		"127.0.0.1":     "",
		anySite:         "",
	} {
		h := probeHello(host)
		if h.ServerName != sni {
			t.Errorf("probeHello(%s).ServerName = %q, want %q", host, h.ServerName, sni)
		}
		if h.Conn == nil || h.Conn.RemoteAddr() == nil || h.SupportedVersions[0] != tls.VersionTLS13 {
			t.Errorf("probeHello(%s) is incomplete: %+v", host, h)
		}
	}
}
