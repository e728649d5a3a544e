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
	if e.slot != slotOf(KindManual, []string{"www.pin.example", "pin.example"}) {
		t.Errorf("slot %x; want the slot of the same names in any order", e.slot)
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
	e := newEntry(&cert, certs.Origin{Kind: KindACME, ARI: certs.NewARI(ari, time.Time{}, time.Time{})}, 0, certs.NewInterner())
	if !e.renewAt.Equal(ari) {
		t.Errorf("renewAt %s; want the ARI time %s", e.renewAt, ari)
	}
	e = newEntry(&cert, certs.Origin{Kind: KindACME}, 0, certs.NewInterner())
	if want := tlsCert.Leaf.NotAfter.Add(-30 * 24 * time.Hour); !e.renewAt.Equal(want) {
		t.Errorf("renewAt without ARI %s; want %s", e.renewAt, want)
	}
}

func TestSlot(t *testing.T) {
	if slotOf(KindACME, []string{"b.example", "a.example"}) != slotOf(KindACME, []string{"a.example", "b.example"}) {
		t.Error("the slot depends on the order of the names")
	}
	for _, other := range []uint64{
		slotOf(KindManual, []string{"a.example", "b.example"}),
		slotOf(KindACME, []string{"a.example"}),
		slotOf(KindACME, []string{"a.exampleb.example"}),
	} {
		if other == slotOf(KindACME, []string{"a.example", "b.example"}) {
			t.Error("another kind or other names share a slot")
		}
	}
	names := []string{"b.example", "a.example"}
	slotOf(KindACME, names)
	if names[0] != "b.example" {
		t.Error("slotOf sorted the certificate's own names slice")
	}
	mk := func(kind IssuerKind, names ...string) *entry {
		return &entry{Facts: certs.Facts{Names: names, Origin: certs.Origin{Kind: kind}}, slot: slotOf(kind, names)}
	}
	if !sameSlot(mk(KindACME, "a", "b"), mk(KindACME, "b", "a")) || sameSlot(mk(KindACME, "a"), mk(KindManual, "a")) {
		t.Error("sameSlot")
	}
}
