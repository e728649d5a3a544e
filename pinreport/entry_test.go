package pinreport

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

func TestNewEntryKnownCertificate(t *testing.T) {
	leaf := readPEMCert(t, "testdata/pin.example.pem")
	cert := certmagic.Certificate{
		Certificate: tls.Certificate{Certificate: [][]byte{leaf.Raw}, Leaf: leaf},
		Names:       []string{"pin.example", "www.pin.example"},
	}
	e := newEntry(&cert, certs.Origin{Kind: KindManual}, 0, certs.NewInterner())
	if got := e.SHA256.String(); got != knownFingerprint {
		t.Errorf("fingerprint %s, openssl says %s", got, knownFingerprint)
	}
	if e.SPKI.String() != knownPin {
		t.Errorf("pin %s, openssl says %s", e.SPKI, knownPin)
	}
	if len(e.Chain) != 0 {
		t.Errorf("a self-signed certificate served alone has no chain; got %d", len(e.Chain))
	}
	if _, ok := e.IssuerPin(); ok {
		t.Error("issuerPin of a certificate served without its issuer")
	}
	if e.slot != "manual|pin.example,www.pin.example" {
		t.Errorf("slot %q", e.slot)
	}
}

func TestRenewalPoint(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	na := nb.Add(90 * 24 * time.Hour)
	for _, tc := range []struct {
		ratio float64
		want  time.Time
	}{
		{0, na.Add(-30 * 24 * time.Hour)}, // certmagic's default: a third
		{1.0 / 3, na.Add(-30 * 24 * time.Hour)},
		{0.5, na.Add(-45 * 24 * time.Hour)},
		{1.5, na.Add(-30 * 24 * time.Hour)}, // out of range: the default
	} {
		if got := renewalPoint(nb, na, tc.ratio); !got.Equal(tc.want) {
			t.Errorf("ratio %v: renewal point %s, want %s", tc.ratio, got, tc.want)
		}
	}
}

func TestNewEntryARIWins(t *testing.T) {
	ca := newTestCA(t, "ari")
	now := time.Now().Truncate(time.Second)
	tlsCert := ca.leaf(t, []string{"a.example"}, now, now.Add(90*24*time.Hour), nil)
	cert := certmagic.Certificate{Certificate: tlsCert, Names: []string{"a.example"}}
	ari := now.Add(50 * 24 * time.Hour)
	e := newEntry(&cert, certs.Origin{Kind: KindACME, ARIAt: ari}, 0, certs.NewInterner())
	if !e.renewAt.Equal(ari) {
		t.Errorf("renewAt %s; want the ARI time %s", e.renewAt, ari)
	}
	e = newEntry(&cert, certs.Origin{Kind: KindACME}, 0, certs.NewInterner())
	if want := tlsCert.Leaf.NotAfter.Add(-30 * 24 * time.Hour); !e.renewAt.Equal(want) {
		t.Errorf("renewAt without ARI %s; want %s", e.renewAt, want)
	}
}

func TestSlot(t *testing.T) {
	if got := slotOf([]string{"b.example", "a.example"}); got != "a.example,b.example" {
		t.Errorf("slotOf unsorted names = %q", got)
	}
	names := []string{"b.example", "a.example"}
	slotOf(names)
	if names[0] != "b.example" {
		t.Error("slotOf sorted the certificate's own names slice")
	}
}
