package pinreport

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/hardtls/caddy-hardtls/internal/certs"
	"github.com/hardtls/caddy-hardtls/internal/certs/certstest"
)

// The benchmarks compare the inventory that follows events (impl=events)
// with the one that scanned every name on every tick and event
// (impl=legacy, legacy_bench_test.go), in the same run; read them with
//
//	benchstat -col /impl bench.txt

// benchCerts describes a bench population: a cache holding n certificates
// of distinct names, one in a hundred overdue for renewal (state warning),
// expiries spread over a day.
type benchCerts struct {
	cache *testCache
	names []string
}

// benchCache caches n certificates that share one signed leaf's
// encoding: each is a copy of the parsed leaf with a name and validity of
// its own, and a few unique bytes as its DER, so that certmagic hashes it
// apart. The inventory computes the same facts for each as for a real
// certificate (digests of the leaf, the issuer interned); Caddy's cache
// holds much less than n real certificates would, which lets a million fit
// in a benchmark, and making them takes no signing. Populations are made
// once per size for all the benchmarks of a run.
func benchCache(b *testing.B, n int) benchCerts {
	b.Helper()
	benchPopMu.Lock()
	defer benchPopMu.Unlock()
	if bc, ok := benchPop[n]; ok {
		return bc
	}
	ca := newTestCA(b, "bench")
	tc := &testCache{cache: certstest.New(b)}
	now := time.Now()
	tmpl := ca.leaf(b, []string{"template.bench.example"}, now, now.Add(time.Hour), nil)
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("host%07d.bench.example", i)
		leaf := *tmpl.Leaf
		leaf.Subject.CommonName = ""
		leaf.DNSNames = []string{names[i]}
		leaf.NotBefore, leaf.NotAfter = benchValidity(now, i)
		cert := tmpl
		cert.Certificate = [][]byte{binary.BigEndian.AppendUint64(nil, uint64(i)), tmpl.Certificate[1]}
		cert.Leaf = &leaf
		tc.add(b, cert)
	}
	bc := benchCerts{cache: tc, names: names}
	benchPop[n] = bc
	return bc
}

// benchPop keeps the populations of a run, by size.
var (
	benchPopMu sync.Mutex
	benchPop   = map[int]benchCerts{}
)

// benchValidity is the validity of the i-th bench certificate: 90 days,
// one in a hundred past its renewal point.
func benchValidity(now time.Time, i int) (time.Time, time.Time) {
	nb := now.Add(-time.Hour - time.Duration(i%86400)*time.Second)
	if i%100 == 0 {
		nb = nb.Add(-70 * 24 * time.Hour)
	}
	return nb, nb.Add(90 * 24 * time.Hour)
}

// benchKind gives the bench population a mix of issuer kinds: mostly
// ACME, a tenth internal, one in a thousand manual.
func benchKind(cert *certmagic.Certificate) IssuerKind {
	i := 0
	for _, c := range strings.TrimPrefix(cert.Names[0], "host") {
		if c < '0' || c > '9' {
			break
		}
		i = i*10 + int(c-'0')
	}
	switch {
	case i%1000 == 7:
		return KindManual
	case i%10 == 1:
		return KindInternal
	}
	return KindACME
}

func benchBuild(cert *certmagic.Certificate, in *certs.Interner) *entry {
	return newEntry(cert, certs.Origin{Kind: benchKind(cert)}, 0, in)
}

// benchApp returns an app over bc that has reconciled once.
func benchApp(bc benchCerts) *App {
	a := &App{
		logger:     zap.NewNop(),
		now:        time.Now,
		lookup:     bc.cache.cache.AllMatchingCertificates,
		state:      newState(),
		extraNames: bc.names,
		buildEntry: benchBuild,
	}
	a.policy = a.state.newPolicy(a.thresholds, a.rules)
	return a
}

// retained measures the heap f leaves allocated, per certificate.
func retained(n int, f func()) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
}

var benchSizes = []int{1_000, 10_000, 100_000}

// BenchmarkFirstReconcile measures building the inventory of n cached
// certificates, and the heap it keeps per certificate on top of what
// Caddy's cache holds anyway (retained-B/cert).
func BenchmarkFirstReconcile(b *testing.B) {
	for _, n := range benchSizes {
		bc := benchCache(b, n)
		b.Run(fmt.Sprintf("n=%d/impl=legacy", n), func(b *testing.B) {
			b.ReportAllocs()
			var kept float64
			for b.Loop() {
				b.StopTimer()
				var s *legacyState
				kept = retained(n, func() {
					s = newLegacyState(bc.names)
					b.StartTimer()
					legacyScan(s, bc.cache.cache.AllMatchingCertificates, thresholds{}, nil, time.Now())
					b.StopTimer()
				})
				if len(s.byHash) != n {
					b.Fatalf("inventory of %d certificates, want %d", len(s.byHash), n)
				}
				runtime.KeepAlive(s)
				b.StartTimer()
			}
			b.ReportMetric(kept, "retained-B/cert")
		})
		b.Run(fmt.Sprintf("n=%d/impl=events", n), func(b *testing.B) {
			b.ReportAllocs()
			var kept float64
			for b.Loop() {
				b.StopTimer()
				a := benchApp(bc)
				kept = retained(n, func() {
					a.state = newState()
					b.StartTimer()
					a.reconcile()
					b.StopTimer()
				})
				if a.state.inv.size() != n {
					b.Fatalf("inventory of %d certificates, want %d", a.state.inv.size(), n)
				}
				runtime.KeepAlive(a)
				b.StartTimer()
			}
			b.ReportMetric(kept, "retained-B/cert")
		})
	}
}

// benchLegacyScan is the legacy side of Reconcile, Tick and Event: the
// old inventory did each of them as one scan of every name.
func benchLegacyScan(b *testing.B, bc benchCerts) {
	s := newLegacyState(bc.names)
	scan := func() { legacyScan(s, bc.cache.cache.AllMatchingCertificates, thresholds{}, nil, time.Now()) }
	scan()
	b.ReportAllocs()
	for b.Loop() {
		scan()
	}
}

// BenchmarkReconcile measures a full reconcile of an unchanged cache:
// legacy did one every scan_interval (1m) and after every event; events
// does one at start and every scan_interval (1h).
func BenchmarkReconcile(b *testing.B) {
	for _, n := range benchSizes {
		bc := benchCache(b, n)
		b.Run(fmt.Sprintf("n=%d/impl=legacy", n), func(b *testing.B) { benchLegacyScan(b, bc) })
		b.Run(fmt.Sprintf("n=%d/impl=events", n), func(b *testing.B) {
			a := benchApp(bc)
			a.reconcile()
			b.ReportAllocs()
			for b.Loop() {
				a.reconcile()
			}
		})
	}
}

// BenchmarkTick measures what the inventory costs between certificate
// events: legacy scanned every name every scan_interval; events wakes
// only when a level change or a looked-up name is due, and this is one
// such wake with nothing due. Its cost does not grow with n.
func BenchmarkTick(b *testing.B) {
	const n = 100_000
	bc := benchCache(b, n)
	b.Run(fmt.Sprintf("n=%d/impl=legacy", n), func(b *testing.B) { benchLegacyScan(b, bc) })
	b.Run(fmt.Sprintf("n=%d/impl=events", n), func(b *testing.B) {
		a := benchApp(bc)
		a.reconcile()
		b.ReportAllocs()
		for b.Loop() {
			a.applyDue()
		}
	})
}

// BenchmarkEvent measures one certificate event applied to an inventory
// of n: a certificate cached (cached_managed_cert: its name looked up, a
// new entry added) and a renewal (cert_obtained: the name looked up, the
// newer certificate added, the one it replaced dropped, the renewed alert
// raised). legacy rescanned every name after an event (and again 2 s
// later); one scan is counted.
func BenchmarkEvent(b *testing.B) {
	const n = 100_000
	bc := benchCache(b, n)
	b.Run(fmt.Sprintf("n=%d/event=any/impl=legacy", n), func(b *testing.B) { benchLegacyScan(b, bc) })

	ca := newTestCA(b, "event")
	now := time.Now()
	const name = "new.bench.example"
	tlsA := ca.leaf(b, []string{name}, now, now.Add(90*24*time.Hour), nil)
	tlsB := ca.leaf(b, []string{name}, now.Add(time.Minute), now.Add(91*24*time.Hour), nil)
	recA := bc.cache.add(b, tlsA)
	b.Run(fmt.Sprintf("n=%d/event=cached/impl=events", n), func(b *testing.B) {
		a := benchApp(bc)
		a.reconcile()
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			a.state.inv.forgetForBench(recA.Hash())
			ev := benchEvent(b, "cached_managed_cert", map[string]any{"sans": recA.Names})
			b.StartTimer()
			a.handleEvent(ev)
			a.lookUpPending(a.state.pending.take(now.Add(time.Hour)), now)
		}
		if a.state.inv.size() != n+1 {
			b.Fatalf("%d entries after the event; want %d", a.state.inv.size(), n+1)
		}
	})
	b.Run(fmt.Sprintf("n=%d/event=renewal/impl=events", n), func(b *testing.B) {
		a := benchApp(bc)
		a.reconcile()
		lookup := bc.cache.cache.AllMatchingCertificates
		var recB certmagic.Certificate
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			// The inventory knows the old certificate; then certmagic
			// stores the renewal, emits cert_obtained and replaces the
			// old one in its cache.
			if recB.Leaf != nil {
				a.state.inv.forgetForBench(recB.Hash())
				bc.cache.remove(recB)
				recA = bc.cache.add(b, tlsA)
			}
			a.state.inv.refresh(a.policy, []string{name}, lookup, benchBuild, now)
			ev := benchEvent(b, "cert_obtained", map[string]any{"identifier": name, "renewal": true})
			bc.cache.remove(recA)
			recB = bc.cache.add(b, tlsB)
			b.StartTimer()
			a.handleEvent(ev)
			a.lookUpPending(a.state.pending.take(now.Add(time.Hour)), now)
		}
		if got := a.state.counts.alertCount(SeverityInfo); got == 0 {
			b.Fatal("no renewal alert")
		}
	})
}

// BenchmarkPage measures GET /pinreport/ over n certificates: legacy
// rendered every certificate (there were no pages); events renders a page
// of 100, found in O(log n), with and without filters.
func BenchmarkPage(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		bc := benchCache(b, n)
		if n <= 100_000 {
			b.Run(fmt.Sprintf("n=%d/query=all/impl=legacy", n), func(b *testing.B) {
				s := newLegacyState(bc.names)
				legacyScan(s, bc.cache.cache.AllMatchingCertificates, thresholds{}, nil, time.Now())
				sorted := s.sortedSnapshot()
				entries := make([]*entry, len(sorted))
				for i, le := range sorted {
					entries[i] = &entry{Facts: le.Facts, renewAt: le.renewAt}
				}
				r := reporter{renewals: newRenewalLog()}
				b.ReportAllocs()
				for b.Loop() {
					w := &discard{h: make(http.Header)}
					if err := r.writeJSON(w, Report{GeneratedAt: time.Now()}, entries); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		a := benchApp(bc)
		a.reconcile()
		a.lookup = bc.cache.cache.AllMatchingCertificates
		middle := a.state.inv.page(pageQuery{limit: n / 2, state: numLevels, kind: numKinds}, time.Now()).next.encode()
		for _, q := range []struct{ name, query string }{
			{"first", ""},
			{"middle", "after=" + middle},
			{"state=warning", "state=warning"},
			{"issuer_kind=manual", "issuer_kind=manual"},
			{"expiring_within=89d", "expiring_within=89d"},
		} {
			b.Run(fmt.Sprintf("n=%d/query=%s/impl=events", n, q.name), func(b *testing.B) {
				req := httptest.NewRequest(http.MethodGet, "/pinreport/?"+q.query, nil)
				b.ReportAllocs()
				for b.Loop() {
					w := &discard{h: make(http.Header)}
					if err := a.serveHTTP(w, req); err != nil {
						b.Fatal(err)
					}
					if w.n == 0 {
						b.Fatal("empty page")
					}
				}
			})
		}
		runtime.KeepAlive(bc)
	}
}

// BenchmarkScrape measures a scrape of the registry pinreport's collector
// is on, with n certificates: legacy judged every certificate's level at
// scrape time and found the newest per label set with a map; events reads
// counts kept up to date and walks the indexes in order; with
// certificate_metrics warning it exports the few certificates in warning
// or worse.
func BenchmarkScrape(b *testing.B) {
	const n = 100_000
	bc := benchCache(b, n)
	gather := func(b *testing.B, c prometheus.Collector) {
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(c); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := reg.Gather(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run(fmt.Sprintf("n=%d/series=all/impl=legacy", n), func(b *testing.B) {
		s := newLegacyState(bc.names)
		legacyScan(s, bc.cache.cache.AllMatchingCertificates, thresholds{}, nil, time.Now())
		gather(b, &legacyCollector{s: s, c: newCollector(nil, nil, levelOK, nil)})
	})
	a := benchApp(bc)
	a.reconcile()
	b.Run(fmt.Sprintf("n=%d/series=all/impl=events", n), func(b *testing.B) {
		gather(b, newCollector(a.state.inv, a.state.counts, levelOK, nil))
	})
	b.Run(fmt.Sprintf("n=%d/series=warning/impl=events", n), func(b *testing.B) {
		gather(b, newCollector(a.state.inv, a.state.counts, levelWarning, nil))
	})
}

// BenchmarkRetained1M builds the inventory of a million certificates and
// reports the heap it keeps per certificate.
func BenchmarkRetained1M(b *testing.B) {
	const n = 1_000_000
	bc := benchCache(b, n)
	b.Run(fmt.Sprintf("n=%d/impl=legacy", n), func(b *testing.B) {
		var kept float64
		for b.Loop() {
			var s *legacyState
			kept = retained(n, func() {
				s = newLegacyState(bc.names)
				legacyScan(s, bc.cache.cache.AllMatchingCertificates, thresholds{}, nil, time.Now())
			})
			runtime.KeepAlive(s)
		}
		b.ReportMetric(kept, "retained-B/cert")
	})
	b.Run(fmt.Sprintf("n=%d/impl=events", n), func(b *testing.B) {
		var kept float64
		for b.Loop() {
			a := benchApp(bc)
			kept = retained(n, func() {
				a.state = newState()
				a.reconcile()
				// Every certificate announced and obtained, as on an
				// on-demand server: the renewal log holds each name.
				for _, name := range bc.names {
					a.state.renewals.obtained(name, time.Now())
				}
			})
			if a.state.inv.size() != n {
				b.Fatalf("%d entries, want %d", a.state.inv.size(), n)
			}
			runtime.KeepAlive(a)
		}
		b.ReportMetric(kept, "retained-B/cert")
	})
}

// discard is a ResponseWriter that counts and throws the body away.
type discard struct {
	h http.Header
	n int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func benchEvent(b *testing.B, name string, data map[string]any) caddy.Event {
	b.Helper()
	e, err := caddy.NewEvent(caddy.Context{Context: context.Background()}, name, data)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// forgetForBench drops the entry of hash, so that a benchmark can add it
// again.
func (inv *inventory) forgetForBench(hash string) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if e := inv.byHash[hash]; e != nil {
		var ch changes
		inv.remove(e, &ch)
	}
}
