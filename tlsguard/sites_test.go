package tlsguard

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

func TestCertificateFor(t *testing.T) {
	now := time.Now()
	exact := testCert{names: []string{"a.example.com"}, lifetime: 10 * day}.generate(t)
	exactNewer := testCert{names: []string{"a.example.com"}, notBefore: now, lifetime: 20 * day}.generate(t)
	wild := testCert{names: []string{"*.example.com"}, lifetime: 90 * day}.generate(t)
	var reports []CertReport
	for _, c := range []certmagic.Certificate{wild, exact, exactNewer} {
		cr, _ := lintCertificate(intermediateProfile(), factsOf(&c, certs.Origin{}), now)
		reports = append(reports, cr)
	}
	for host, want := range map[string]int{
		"a.example.com":   2, // exact beats wildcard; the longer-valid one wins
		"b.example.com":   0,
		"*.example.com":   0,
		"example.com":     -1,
		"x.y.example.com": -1,
	} {
		if got := certificateFor(reports, host); got != want {
			t.Errorf("certificateFor(%s) = %d, want %d", host, got, want)
		}
	}
}

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
