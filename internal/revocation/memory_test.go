package revocation

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

// TestHugeBodyBoundedMemory serves a 100 MiB body, streamed from one
// 32 KiB buffer so the server never holds it, to a Checker with the
// default 10 MiB limit. The check must fail at the limit, the server must
// see the client hang up long before 100 MiB, and the bytes the whole
// process allocates meanwhile must stay near the limit, not the body.
func TestHugeBodyBoundedMemory(t *testing.T) {
	const body = 100 << 20
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stream(body, &sent)(t, w, r) }))
	defer srv.Close()
	leaf, issuer := leafOf(t, ca, srv.URL+"/crl")
	c := New(Config{})

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := c.Check(context.Background(), leaf, issuer)
	runtime.ReadMemStats(&after)
	srv.Close() // waits for the handler: sent is final

	wantUnknown(t, res, "the CRL is over the limit of 10485760 bytes")
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("100 MiB body, 10 MiB limit: read %d bytes, server wrote %d bytes before the client hung up, process allocated %d bytes (%.1f MiB) in %d objects",
		c.Stats().Bytes, sent.Load(), allocated, float64(allocated)/(1<<20), after.Mallocs-before.Mallocs)
	if got := c.Stats().Bytes; got != DefaultMaxBytes+1 {
		t.Errorf("read %d bytes, want the limit + 1 = %d", got, DefaultMaxBytes+1)
	}
	if sent.Load() >= body/2 {
		t.Errorf("the server wrote %d bytes: the client did not stop at the limit", sent.Load())
	}
	// readLimited grows its buffer 64 KiB, 128 KiB, ... 8 MiB, then to
	// the limit + 1: about 2.5 times the limit in all.
	if allocated > 3*DefaultMaxBytes {
		t.Errorf("allocated %d bytes for a %d-byte limit: more than 3 times the limit", allocated, DefaultMaxBytes)
	}
}
