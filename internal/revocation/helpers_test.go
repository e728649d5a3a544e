package revocation

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

// clock is a settable clock for Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// leafOf issues a leaf of ca naming crlURLs as its distribution points
// and returns it with its issuer.
func leafOf(t testing.TB, ca *testpki.CA, crlURLs ...string) (leaf, issuer *x509.Certificate) {
	t.Helper()
	c := ca.IssueWith(t, testpki.Leaf{Names: []string{"crl.example"}}, testpki.WithCRL(crlURLs...))
	return c.Leaf, ca.Cert
}

// revokedEntry lists serial as revoked with reason, an hour ago.
func revokedEntry(serial *big.Int, reason Reason) x509.RevocationListEntry {
	return x509.RevocationListEntry{SerialNumber: serial, RevocationTime: time.Now().Add(-time.Hour).UTC().Truncate(time.Second), ReasonCode: int(reason)}
}

// crlWithoutNextUpdate signs, by hand, a CRL that omits the optional
// nextUpdate field, which x509.CreateRevocationList always writes.
func crlWithoutNextUpdate(t testing.TB, ca *testpki.CA) []byte {
	t.Helper()
	algo := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}} // ecdsa-with-SHA256
	tbs, err := asn1.Marshal(struct {
		Version    int
		Signature  pkix.AlgorithmIdentifier
		Issuer     asn1.RawValue
		ThisUpdate time.Time `asn1:"utc"`
	}{1, algo, asn1.RawValue{FullBytes: ca.Cert.RawSubject}, time.Now().Add(-time.Hour).UTC().Truncate(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	digest := crypto.SHA256.New()
	digest.Write(tbs)
	sig, err := ca.Key.Sign(rand.Reader, digest.Sum(nil), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, algo, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// wantUnknown fails t unless res is an unknown status whose error
// contains want.
func wantUnknown(t *testing.T, res Result, want string) {
	t.Helper()
	if res.Status != StatusUnknown {
		t.Fatalf("status = %s, want unknown (%s)", res.Status, res)
	}
	if res.Err == nil || !strings.Contains(res.Err.Error(), want) {
		t.Fatalf("error = %v\nwant it to contain %q", res.Err, want)
	}
}

// serveBytes serves body at <server>/crl until the test ends and returns
// that URL.
func serveBytes(tb testing.TB, body []byte) string {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(body) }))
	tb.Cleanup(srv.Close)
	return srv.URL + "/crl"
}

// opensslWith writes files (base name to contents) to a fresh folder and
// runs the openssl CLI with args, in which each base name is replaced by
// its path. The test fails when openssl is missing: .ci/run installs it,
// and these checks are the verdicts of an implementation we did not write.
func opensslWith(t *testing.T, files map[string][]byte, args ...string) ([]byte, error) {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl not installed (.ci/run installs it)")
	}
	dir := t.TempDir()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args = slices.Clone(args)
	for i, a := range args {
		if _, ok := files[a]; ok {
			args[i] = filepath.Join(dir, a)
		}
	}
	return exec.Command(bin, args...).CombinedOutput()
}

// certPEM is cert in PEM, as openssl reads it.
func certPEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}
