package pinreport

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// testCA is a two-level CA (root and intermediate) for test
// certificates; leaves are served with the intermediate.
type testCA struct {
	root, inter       *x509.Certificate
	rootKey, interKey crypto.Signer
}

var serials = func() func() *big.Int {
	n := int64(1000)
	return func() *big.Int { n++; return big.NewInt(n) }
}()

func newKey(tb testing.TB) crypto.Signer {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// sharedKey is one key for tests that need many certificates and do not
// care about their pins.
var sharedKey crypto.Signer

func newKeyOnce(tb testing.TB) crypto.Signer {
	if sharedKey == nil {
		sharedKey = newKey(tb)
	}
	return sharedKey
}

func rsaKey(tb testing.TB) crypto.Signer {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

func ed25519Key(tb testing.TB) crypto.Signer {
	tb.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

func newTestCA(tb testing.TB, name string) *testCA {
	tb.Helper()
	ca := &testCA{rootKey: newKey(tb), interKey: newKey(tb)}
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber: serials(), Subject: pkix.Name{CommonName: name + " Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		SubjectKeyId: []byte(name + "-root"),
	}
	ca.root = mustCreate(tb, rootTmpl, rootTmpl, ca.rootKey.Public(), ca.rootKey)
	interTmpl := &x509.Certificate{
		SerialNumber: serials(), Subject: pkix.Name{CommonName: name + " Intermediate"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(5 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		SubjectKeyId: []byte(name + "-inter"),
	}
	ca.inter = mustCreate(tb, interTmpl, ca.root, ca.interKey.Public(), ca.rootKey)
	return ca
}

func mustCreate(tb testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	tb.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

// leaf issues a certificate for names valid from nb to na with key (a
// new key when nil), served with the intermediate.
func (ca *testCA) leaf(tb testing.TB, names []string, nb, na time.Time, key crypto.Signer) tls.Certificate {
	tb.Helper()
	if key == nil {
		key = newKey(tb)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serials(), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: nb, NotAfter: na, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	cert := mustCreate(tb, tmpl, ca.inter, key.Public(), ca.interKey)
	return tls.Certificate{Certificate: [][]byte{cert.Raw, ca.inter.Raw}, PrivateKey: key, Leaf: cert}
}

// testCache is a certmagic cache of its own, so tests do not touch
// Caddy's global one.
type testCache struct {
	cache *certmagic.Cache
	cfg   *certmagic.Config
}

func newTestCache(tb testing.TB) *testCache {
	tb.Helper()
	tc := new(testCache)
	tc.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return tc.cfg, nil },
		Logger:           zap.NewNop(),
	})
	tc.cfg = certmagic.New(tc.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: tb.TempDir()},
		Logger:  zap.NewNop(),
		OCSP:    certmagic.OCSPConfig{DisableStapling: true},
	})
	tb.Cleanup(tc.cache.Stop)
	return tc
}

// add caches a certificate as a manually loaded one and returns the
// cache's record of it.
func (tc *testCache) add(tb testing.TB, cert tls.Certificate) certmagic.Certificate {
	tb.Helper()
	hash, err := tc.cfg.CacheUnmanagedTLSCertificate(context.Background(), cert, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range tc.cache.AllMatchingCertificates(cert.Leaf.DNSNames[0]) {
		if c.Hash() == hash {
			return c
		}
	}
	tb.Fatalf("certificate %s not found in the cache after adding it", hash)
	return certmagic.Certificate{}
}

// remove drops a certificate from the cache.
func (tc *testCache) remove(c certmagic.Certificate) { tc.cache.Remove([]string{c.Hash()}) }

// certFor returns the cached certificate of name.
func certFor(tb testing.TB, tc *testCache, name string) certmagic.Certificate {
	tb.Helper()
	found := tc.cache.AllMatchingCertificates(name)
	if len(found) != 1 {
		tb.Fatalf("%d certificates cached for %s, want 1", len(found), name)
	}
	return found[0]
}

func mustLeaf(tb testing.TB, tc *testCache, name string) *x509.Certificate {
	tb.Helper()
	return certFor(tb, tc, name).Leaf
}

// testApp returns an app wired to a test cache, a fresh state and an
// observed logger, without a Caddy config: scans look up names.
func testApp(tb testing.TB, tc *testCache, names ...string) (*App, *observer.ObservedLogs) {
	tb.Helper()
	core, logs := observer.New(zap.DebugLevel)
	a := &App{
		ScanInterval: 0,
		logger:       zap.New(core),
		now:          time.Now,
		lookup:       tc.cache.AllMatchingCertificates,
		state:        newState(),
		trigger:      make(chan struct{}, 1),
	}
	a.state.observe(names)
	return a, logs
}

// clock is a settable clock for tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// sightingOf is what a scan finding certs would sight.
func sightingOf(s *state, certs []certmagic.Certificate) sighting {
	var found sighting
	for i := range certs {
		if certs[i].Leaf == nil {
			continue
		}
		if e, ok := s.byHash[certs[i].Hash()]; ok {
			found.known = append(found.known, e)
		} else {
			found.fresh = append(found.fresh, &certs[i])
		}
	}
	return found
}
