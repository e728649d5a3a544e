package pinreport

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

func TestNewEntryKnownCertificate(t *testing.T) {
	leaf := readPEMCert(t, "testdata/pin.example.pem")
	cert := certmagic.Certificate{
		Certificate: tls.Certificate{Certificate: [][]byte{leaf.Raw}, Leaf: leaf},
		Names:       []string{"pin.example", "www.pin.example"},
	}
	e := newEntry(cert, origin{kind: KindManual}, 0, newInterner())
	if got := fingerprintHex(e.fingerprint); got != knownFingerprint {
		t.Errorf("fingerprint %s, openssl says %s", got, knownFingerprint)
	}
	if e.spki.String() != knownPin {
		t.Errorf("pin %s, openssl says %s", e.spki, knownPin)
	}
	if len(e.chain) != 0 {
		t.Errorf("a self-signed certificate served alone has no chain; got %d", len(e.chain))
	}
	if _, ok := e.issuerPin(); ok {
		t.Error("issuerPin of a certificate served without its issuer")
	}
	if e.slot != "manual|pin.example,www.pin.example" {
		t.Errorf("slot %q", e.slot)
	}
}

func TestNewEntrySharesChains(t *testing.T) {
	ca := newTestCA(t, "share")
	tc := newTestCache(t)
	now := time.Now()
	in := newInterner()
	a := newEntry(tc.add(t, ca.leaf(t, []string{"a.example"}, now, now.Add(time.Hour), nil)), origin{}, 0, in)
	b := newEntry(tc.add(t, ca.leaf(t, []string{"b.example"}, now, now.Add(time.Hour), nil)), origin{}, 0, in)
	if len(a.chain) != 1 || a.chain[0] != b.chain[0] {
		t.Fatalf("leaves of one intermediate should share its record; got %v and %v", a.chain, b.chain)
	}
	if a.chain[0].spki != SPKIPin(ca.inter) || a.chain[0].subject != ca.inter.Subject.String() {
		t.Errorf("chain record %+v does not describe the intermediate", a.chain[0])
	}
	if got := a.chainPins(); len(got) != 2 || got[0] != SPKIPin(a.leaf) || got[1] != SPKIPin(ca.inter) {
		t.Errorf("chainPins %v: want leaf then issuer", got)
	}
	if a.hash == "" || a.hash == b.hash {
		t.Errorf("hashes %q and %q: want the cache's distinct hashes", a.hash, b.hash)
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
	e := newEntry(cert, origin{kind: KindACME, ariAt: ari}, 0, newInterner())
	if !e.renewAt.Equal(ari) {
		t.Errorf("renewAt %s; want the ARI time %s", e.renewAt, ari)
	}
	e = newEntry(cert, origin{kind: KindACME}, 0, newInterner())
	if want := tlsCert.Leaf.NotAfter.Add(-30 * 24 * time.Hour); !e.renewAt.Equal(want) {
		t.Errorf("renewAt without ARI %s; want %s", e.renewAt, want)
	}
}

func TestKeyInfo(t *testing.T) {
	ca := newTestCA(t, "keys")
	now := time.Now()
	for _, tc := range []struct {
		leaf tls.Certificate
		typ  string
		bits int
	}{
		{ca.leaf(t, []string{"e.example"}, now, now.Add(time.Hour), nil), "ecdsa", 256},
		{ca.leaf(t, []string{"r.example"}, now, now.Add(time.Hour), rsaKey(t)), "rsa", 2048},
		{ca.leaf(t, []string{"d.example"}, now, now.Add(time.Hour), ed25519Key(t)), "ed25519", 256},
	} {
		typ, bits := keyInfo(tc.leaf.Leaf)
		if typ != tc.typ || bits != tc.bits {
			t.Errorf("%s: key %s/%d, want %s/%d", tc.leaf.Leaf.Subject, typ, bits, tc.typ, tc.bits)
		}
	}
}

func TestSlotAndKind(t *testing.T) {
	if got := slotOf([]string{"b.example", "a.example"}); got != "a.example,b.example" {
		t.Errorf("slotOf unsorted names = %q", got)
	}
	names := []string{"b.example", "a.example"}
	slotOf(names)
	if names[0] != "b.example" {
		t.Error("slotOf sorted the certificate's own names slice")
	}
	for k, want := range map[IssuerKind]string{KindManual: "manual", KindACME: "acme", KindInternal: "internal"} {
		if k.String() != want {
			t.Errorf("kind %d is %q, want %q", k, k, want)
		}
	}
}
