package certs

import (
	"crypto"
	"crypto/tls"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/certs/certstest"
	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

// testCache is a certificate cache of its own, with a CA whose leaves it
// holds.
type testCache struct {
	cache *certstest.Cache
	ca    *testpki.CA
}

func newTestCache(tb testing.TB) *testCache {
	tb.Helper()
	return &testCache{
		cache: certstest.New(tb),
		ca:    testpki.NewCA(tb, "certs test root", nil).Intermediate(tb, "certs test intermediate"),
	}
}

// add issues a leaf of the test CA for names and caches it; it returns
// the cache's record.
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
	return tc.cache.Add(tb, cert)
}
