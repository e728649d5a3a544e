package certs

import (
	"context"
	"crypto"
	"crypto/tls"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

// testCache is a certmagic cache of its own, with a CA whose leaves it
// holds, so tests do not touch Caddy's global cache.
type testCache struct {
	cache *certmagic.Cache
	cfg   *certmagic.Config
	ca    *testpki.CA
}

func newTestCache(tb testing.TB) *testCache {
	tb.Helper()
	tc := &testCache{ca: testpki.NewCA(tb, "certs test root", nil).Intermediate(tb, "certs test intermediate")}
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

// add issues a leaf of the test CA for names and caches it as a manually
// loaded certificate; it returns the cache's record.
func (tc *testCache) add(tb testing.TB, names []string, notBefore time.Time, lifetime time.Duration) certmagic.Certificate {
	tb.Helper()
	return tc.addCert(tb, tc.ca.Issue(tb, testpki.Leaf{Names: names, NotBefore: notBefore, Lifetime: lifetime}))
}

// addKey is add with a given key.
func (tc *testCache) addKey(tb testing.TB, names []string, key crypto.Signer) certmagic.Certificate {
	tb.Helper()
	return tc.addCert(tb, tc.ca.Issue(tb, testpki.Leaf{Names: names, Key: key}))
}

func (tc *testCache) addCert(tb testing.TB, cert tls.Certificate) certmagic.Certificate {
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
