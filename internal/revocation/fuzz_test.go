package revocation

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

// The fuzz targets use a PKI built the same way on every run — an Ed25519
// CA from a fixed seed, fixed serials and dates (Ed25519 signatures are
// deterministic) — so the committed corpus of signed CRLs verifies.
var (
	fuzzNow   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fuzzURL   = "http://crl.fuzz.test/1.crl"
	fuzzLeafS = big.NewInt(0x1234)
)

type fuzzPKI struct {
	ca   *x509.Certificate
	key  ed25519.PrivateKey
	leaf *x509.Certificate
}

func newFuzzPKI(tb testing.TB) fuzzPKI {
	tb.Helper()
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Fuzz CA"},
		NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2035, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	ca := mustCert(tb, caTmpl, caTmpl, key.Public(), key)
	leafKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize))
	leaf := mustCert(tb, &x509.Certificate{
		SerialNumber: fuzzLeafS, Subject: pkix.Name{CommonName: "fuzz.example"}, DNSNames: []string{"fuzz.example"},
		NotBefore: caTmpl.NotBefore, NotAfter: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		CRLDistributionPoints: []string{fuzzURL},
	}, ca, leafKey.Public(), key)
	return fuzzPKI{ca: ca, key: key, leaf: leaf}
}

func mustCert(tb testing.TB, tmpl, parent *x509.Certificate, pub any, key ed25519.PrivateKey) *x509.Certificate {
	tb.Helper()
	der, err := x509.CreateCertificate(nil, tmpl, parent, pub, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

// sign signs a CRL with the fuzz CA: thisUpdate 12 hours before fuzzNow
// and nextUpdate a week later unless rl sets them.
func (p fuzzPKI) sign(tb testing.TB, rl x509.RevocationList) []byte {
	tb.Helper()
	if rl.Number == nil {
		rl.Number = big.NewInt(1)
	}
	if rl.ThisUpdate.IsZero() {
		rl.ThisUpdate = fuzzNow.Add(-12 * time.Hour)
	}
	if rl.NextUpdate.IsZero() {
		rl.NextUpdate = rl.ThisUpdate.Add(7 * 24 * time.Hour)
	}
	der, err := x509.CreateRevocationList(nil, &rl, p.ca, p.key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// fuzzSeeds are the committed corpus of FuzzCRL, by file name.
func fuzzSeeds(tb testing.TB) map[string][]byte {
	p := newFuzzPKI(tb)
	entry := func(serial *big.Int, reason Reason) x509.RevocationListEntry {
		return x509.RevocationListEntry{SerialNumber: serial, RevocationTime: fuzzNow.Add(-time.Hour), ReasonCode: int(reason)}
	}
	revoked := []x509.RevocationListEntry{entry(big.NewInt(99), ReasonSuperseded), entry(fuzzLeafS, ReasonKeyCompromise)}
	idp := func(urls ...string) []pkix.Extension {
		return []pkix.Extension{testpki.IssuingDistributionPoint(urls, true)}
	}
	good := p.sign(tb, x509.RevocationList{})
	return map[string][]byte{
		"good":          good,
		"good_pem":      pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: good}),
		"revoked":       p.sign(tb, x509.RevocationList{RevokedCertificateEntries: revoked}),
		"revoked_idp":   p.sign(tb, x509.RevocationList{RevokedCertificateEntries: revoked, ExtraExtensions: idp(fuzzURL)}),
		"other_shard":   p.sign(tb, x509.RevocationList{RevokedCertificateEntries: revoked, ExtraExtensions: idp("http://crl.fuzz.test/2.crl")}),
		"stale":         p.sign(tb, x509.RevocationList{RevokedCertificateEntries: revoked, ThisUpdate: fuzzNow.Add(-9 * 24 * time.Hour)}),
		"remove":        p.sign(tb, x509.RevocationList{RevokedCertificateEntries: []x509.RevocationListEntry{entry(fuzzLeafS, ReasonRemoveFromCRL)}}),
		"delta":         p.sign(tb, x509.RevocationList{ExtraExtensions: []pkix.Extension{{Id: oidDeltaCRLIndicator, Critical: true, Value: []byte{2, 1, 1}}}}),
		"html":          []byte("<html><body>not found</body></html>"),
		"truncated_der": good[:len(good)/2],
	}
}

// TestFuzzCorpusUpToDate checks that the committed FuzzCRL corpus is what
// fuzzSeeds signs today, and that its CRLs still verify, so the fuzzer
// starts from CRLs that reach past the signature check. Run it with
// HARDTLS_UPDATE_FUZZ_CORPUS=1 to rewrite the corpus.
func TestFuzzCorpusUpToDate(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzCRL")
	update := os.Getenv("HARDTLS_UPDATE_FUZZ_CORPUS") != ""
	p := newFuzzPKI(t)
	for name, body := range fuzzSeeds(t) {
		file := filepath.Join(dir, name)
		want := "go test fuzz v1\n[]byte(" + strconv.Quote(string(body)) + ")\n"
		if update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(file)
		if err != nil || string(got) != want {
			t.Errorf("%s is not what fuzzSeeds signs (%v): run HARDTLS_UPDATE_FUZZ_CORPUS=1 go test -run TestFuzzCorpusUpToDate", file, err)
		}
	}
	c, err := parseCRL(fuzzSeeds(t)["revoked"])
	if err != nil {
		t.Fatal(err)
	}
	if res := c.evaluate(fuzzURL, p.leaf, p.ca, fuzzNow); res.Status != StatusRevoked {
		t.Errorf("the corpus's revoking CRL gives %s", res)
	}
}

// FuzzCRL feeds arbitrary bodies to the parse and verify path, as a
// hostile CRL server would. A good or revoked answer must be backed by
// the standard library: the body is a CRL whose signature verifies with
// the CA's key, fresh at fuzzNow, and it lists the leaf exactly when the
// answer is revoked. Anything else must be unknown with a reason.
func FuzzCRL(f *testing.F) {
	for _, body := range fuzzSeeds(f) {
		f.Add(body)
	}
	p := newFuzzPKI(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := parseCRL(body)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		res := c.evaluate(fuzzURL, p.leaf, p.ca, fuzzNow)
		switch res.Status {
		case StatusUnknown:
			if res.Err == nil {
				t.Fatal("unknown status without a reason")
			}
			return
		case StatusGood, StatusRevoked:
		default:
			t.Fatalf("status %q", res.Status)
		}
		der := body
		if block, _ := pem.Decode(body); block != nil {
			der = block.Bytes
		}
		rl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatalf("%s from a body the standard library cannot parse: %v", res.Status, err)
		}
		if err := rl.CheckSignatureFrom(p.ca); err != nil {
			t.Fatalf("%s from a CRL whose signature does not verify: %v", res.Status, err)
		}
		if !(fuzzNow.Add(clockSkew).After(rl.ThisUpdate) || fuzzNow.Add(clockSkew).Equal(rl.ThisUpdate)) || !fuzzNow.Before(rl.NextUpdate) {
			t.Fatalf("%s from a CRL valid %v to %v", res.Status, rl.ThisUpdate, rl.NextUpdate)
		}
		listed := false
		for _, e := range rl.RevokedCertificateEntries {
			listed = listed || e.SerialNumber.Cmp(fuzzLeafS) == 0
		}
		if listed != (res.Status == StatusRevoked) {
			t.Fatalf("%s, but the CRL lists the leaf: %v", res.Status, listed)
		}
	})
}

// FuzzCRLFields builds well-signed CRLs from fuzzed fields — the leaf
// listed or not, its reason, thisUpdate and nextUpdate around fuzzNow, an
// Issuing Distribution Point URL — and checks evaluate against a model of
// RFC 5280's rules written out here, so the logic past the signature
// check is fuzzed too.
func FuzzCRLFields(f *testing.F) {
	f.Add(true, uint8(1), int32(-60), int32(60*24), "")
	f.Add(false, uint8(0), int32(-60), int32(60*24), fuzzURL)
	f.Add(true, uint8(8), int32(-60), int32(60*24), "")
	f.Add(true, uint8(1), int32(-3*60*24), int32(60*24), "http://crl.fuzz.test/2.crl")
	f.Add(true, uint8(4), int32(10), int32(60), "")
	p := newFuzzPKI(f)
	f.Fuzz(func(t *testing.T, listed bool, reason uint8, thisMin, validMin int32, idpURL string) {
		if validMin <= 0 || strings.ContainsAny(idpURL, "\x00") {
			return
		}
		this := fuzzNow.Add(time.Duration(thisMin) * time.Minute).Truncate(time.Second)
		next := this.Add(time.Duration(validMin) * time.Minute)
		rl := x509.RevocationList{ThisUpdate: this, NextUpdate: next}
		rl.RevokedCertificateEntries = append(rl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: big.NewInt(7), RevocationTime: this})
		if listed {
			rl.RevokedCertificateEntries = append(rl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: fuzzLeafS, RevocationTime: this, ReasonCode: int(reason)})
		}
		if idpURL != "" {
			rl.ExtraExtensions = []pkix.Extension{testpki.IssuingDistributionPoint([]string{idpURL}, true)}
		}
		c, err := parseCRL(p.sign(t, rl))
		if err != nil {
			t.Fatal(err)
		}
		res := c.evaluate(fuzzURL, p.leaf, p.ca, fuzzNow)

		want := StatusGood
		switch {
		case idpURL != "" && idpURL != fuzzURL,
			fuzzNow.Add(clockSkew).Before(this),
			!fuzzNow.Before(next),
			listed && Reason(reason) == ReasonRemoveFromCRL:
			want = StatusUnknown
		case listed:
			want = StatusRevoked
		}
		if res.Status != want {
			t.Fatalf("listed %v reason %d valid %v..%v IDP %q: got %s, want %s", listed, reason, this, next, idpURL, res, want)
		}
		if want == StatusRevoked && (res.Reason != Reason(reason) || !res.RevokedAt.Equal(this)) {
			t.Fatalf("revoked %s, want reason %d at %v", res, reason, this)
		}
		if want == StatusUnknown && res.Err == nil {
			t.Fatal("unknown without a reason")
		}
		_ = fmt.Sprint(res) // String must not panic on any result
	})
}
