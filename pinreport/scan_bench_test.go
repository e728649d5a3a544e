package pinreport

import (
	"crypto"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.uber.org/zap"
)

// benchCache returns a certificate cache holding n certificates of
// distinct names, and the names. Keys are reused (making them is the
// slow part), which changes nothing for the inventory.
func benchCache(b *testing.B, n int) (*testCache, []string) {
	b.Helper()
	ca := newTestCA(b, "bench")
	tc := newTestCache(b)
	keys := make([]crypto.Signer, 16)
	for i := range keys {
		keys[i] = newKey(b)
	}
	now := time.Now()
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("host%06d.bench.example", i)
		tc.add(b, ca.leaf(b, []string{names[i]}, now.Add(-time.Hour), now.Add(90*24*time.Hour), keys[i%len(keys)]))
	}
	return tc, names
}

func benchApp(tc *testCache, names []string) *App {
	a := &App{
		logger:  zap.NewNop(),
		now:     time.Now,
		lookup:  tc.cache.AllMatchingCertificates,
		state:   newState(),
		trigger: make(chan struct{}, 1),
	}
	a.state.observed.add(names)
	return a
}

var benchSizes = []int{1_000, 10_000, 100_000}

// BenchmarkScan measures a scan of the certificate cache: looking every
// name up, building entries for new certificates, checking expiry and
// publishing the sorted view. "first" builds a new inventory; "steady"
// rescans an unchanged one, which is what every scan_interval does.
// retained-B/cert is the heap the inventory keeps per certificate, on
// top of the certificates Caddy's cache holds anyway.
func BenchmarkScan(b *testing.B) {
	for _, n := range benchSizes {
		tc, names := benchCache(b, n)
		b.Run(fmt.Sprintf("first/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var retained float64
			for b.Loop() {
				b.StopTimer()
				a := benchApp(tc, names)
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				b.StartTimer()
				a.scan()
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&after)
				if v, _ := a.state.inv.snapshot(); len(v) != n {
					b.Fatalf("inventory of %d certificates, want %d", len(v), n)
				}
				retained = float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
				runtime.KeepAlive(a)
				b.StartTimer()
			}
			b.ReportMetric(retained, "retained-B/cert")
		})
		b.Run(fmt.Sprintf("steady/%d", n), func(b *testing.B) {
			a := benchApp(tc, names)
			a.scan()
			b.ReportAllocs()
			for b.Loop() {
				a.scan()
			}
		})
	}
}
