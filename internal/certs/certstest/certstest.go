// Package certstest gives tests a certmagic certificate cache of their
// own, so that they never touch Caddy's global one. It is for tests only.
package certstest

import (
	"context"
	"crypto/tls"
	"testing"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// Cache is a certificate cache with a config to load certificates into it.
type Cache struct {
	*certmagic.Cache
	cfg *certmagic.Config
}

// New returns an empty cache, stopped when the test ends.
func New(tb testing.TB) *Cache {
	tb.Helper()
	c := new(Cache)
	c.Cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return c.cfg, nil },
		Logger:           zap.NewNop(),
	})
	c.cfg = certmagic.New(c.Cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: tb.TempDir()},
		Logger:  zap.NewNop(),
		OCSP:    certmagic.OCSPConfig{DisableStapling: true},
	})
	tb.Cleanup(c.Stop)
	return c
}

// Add caches a certificate as a manually loaded one and returns the
// cache's record of it.
func (c *Cache) Add(tb testing.TB, cert tls.Certificate) certmagic.Certificate {
	tb.Helper()
	hash, err := c.cfg.CacheUnmanagedTLSCertificate(context.Background(), cert, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for _, found := range c.AllMatchingCertificates(cert.Leaf.DNSNames[0]) {
		if found.Hash() == hash {
			return found
		}
	}
	tb.Fatalf("certificate %s not found in the cache after adding it", hash)
	return certmagic.Certificate{}
}

// Drop removes a certificate from the cache.
func (c *Cache) Drop(cert certmagic.Certificate) { c.Remove([]string{cert.Hash()}) }
