package revocation

import (
	"context"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

// BenchmarkCheckCached measures a check answered from the cache: the cost
// per certificate per scan once the CRL is fetched. The CRL lists 100,000
// serials, the size of a large CA's CRL (Let's Encrypt's shards are far
// smaller).
func BenchmarkCheckCached(b *testing.B) {
	ca := testpki.NewCRLCA(b, "CRL bench CA", nil)
	entries := make([]x509.RevocationListEntry, 100_000)
	for i := range entries {
		entries[i] = x509.RevocationListEntry{SerialNumber: big.NewInt(int64(i) + 1), RevocationTime: time.Now().Add(-time.Hour)}
	}
	der := ca.SignCRL(b, testpki.CRL{Revoked: entries})
	srv := serveBytes(b, der)
	leaf, issuer := leafOf(b, ca, srv)
	c := New(Config{})
	if res := c.Check(context.Background(), leaf, issuer); res.Status != StatusGood {
		b.Fatal(res)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Check(context.Background(), leaf, issuer)
	}
}
