package fleet

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/google/uuid"
	"go.uber.org/zap"
)

// syntheticFleet stores n records of instances with 10 sites and 20
// names each in a real file_system storage.
func syntheticFleet(b *testing.B, n int) (*certmagic.FileStorage, time.Time) {
	st := &certmagic.FileStorage{Path: b.TempDir()}
	now := time.Now()
	ctx := context.Background()
	for i := range n {
		f := sampleFacts()
		f.Hostname = fmt.Sprintf("caddy-%04d", i)
		f.Sites, f.Names = nil, nil
		for s := range 10 {
			f.Sites = append(f.Sites, Site{Host: fmt.Sprintf("site%d.example.com", s),
				TLS:   "tls1.2,tls1.3|TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256|x25519,secp256r1",
				Grade: "A+", HSTS: "max-age=63072000; includeSubDomains"})
		}
		for k := range 20 {
			f.Names = append(f.Names, Name{Name: fmt.Sprintf("name%02d.example.com", k), SHA256: strings.Repeat(fmt.Sprintf("%02x", k), 32),
				SPKI: "YLh1dUR9y6Kja30RrAn7JKnbQG/uEtLMkBgFF2Fuihg=", NotAfter: now.Add(60 * 24 * time.Hour).UTC()})
		}
		key, body, err := encodeRecord(uuid.NewString(), now.Add(-time.Second), InstanceFacts{Facts: f, Started: now.Add(-time.Hour), Interval: time.Minute, Ready: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Store(ctx, key, body); err != nil {
			b.Fatal(err)
		}
	}
	return st, now
}

// BenchmarkViewCold builds the view the way an instance does on its first
// round (or any reader after every record changed): one List, a Load and
// a decode per record, then states and drift.
func BenchmarkViewCold(b *testing.B) {
	for _, n := range []int{200, 1000} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			st, now := syntheticFleet(b, n)
			th := thresholds{interval: time.Minute, staleAfter: 3, goneAfter: 60, clockTolerance: time.Minute}
			b.ReportAllocs()
			for b.Loop() {
				o := newObserver("self", func() time.Time { return now })
				if err := o.list(context.Background(), st, zap.NewNop()); err != nil {
					b.Fatal(err)
				}
				v := buildView(o.snapshot(), th, now)
				if len(v.Instances) != n {
					b.Fatalf("%d instances; want %d", len(v.Instances), n)
				}
			}
		})
	}
}

// BenchmarkViewSteady is a round of a running instance when no record's
// facts changed: one List, no Load, then states and drift.
func BenchmarkViewSteady(b *testing.B) {
	for _, n := range []int{200, 1000} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			st, now := syntheticFleet(b, n)
			th := thresholds{interval: time.Minute, staleAfter: 3, goneAfter: 60, clockTolerance: time.Minute}
			o := newObserver("self", func() time.Time { return now })
			if err := o.list(context.Background(), st, zap.NewNop()); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := o.list(context.Background(), st, zap.NewNop()); err != nil {
					b.Fatal(err)
				}
				v := buildView(o.snapshot(), th, now)
				if len(v.Instances) != n {
					b.Fatalf("%d instances; want %d", len(v.Instances), n)
				}
			}
		})
	}
}

// BenchmarkRecordSize reports a record's size per served name.
func BenchmarkRecordSize(b *testing.B) {
	f := sampleFacts()
	base := f
	base.Names = nil
	_, empty, _ := encodeRecord(uuid.NewString(), time.Now(), InstanceFacts{Facts: base, Interval: time.Minute})
	f.Names = nil
	for k := range 100 {
		f.Names = append(f.Names, Name{Name: fmt.Sprintf("www%02d.example.com", k), SHA256: strings.Repeat("ab", 32),
			SPKI: "YLh1dUR9y6Kja30RrAn7JKnbQG/uEtLMkBgFF2Fuihg=", NotAfter: time.Now().UTC().Truncate(time.Second)})
	}
	var full []byte
	for b.Loop() {
		_, full, _ = encodeRecord(uuid.NewString(), time.Now(), InstanceFacts{Facts: f, Interval: time.Minute})
	}
	b.ReportMetric(float64(len(full)-len(empty))/100, "bytes/name")
	b.ReportMetric(float64(len(empty)), "bytes/base")
}
