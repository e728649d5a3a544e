package tlsguard

import (
	"crypto/tls"
	"testing"
	"time"
)

// benchmarkHandshakes runs full handshakes (no resumption) over loopback
// TCP against a server config like Caddy's, with or without telemetry.
func benchmarkHandshakes(b *testing.B, telemetry bool) {
	cert := testCert{names: []string{"localhost"}}.generate(b)
	server := handshakeServer(b, cert.Certificate)
	st := newServerStats(time.Now())
	if telemetry {
		st.wrap(server)
	}
	client := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}
	b.ReportAllocs()
	for b.Loop() {
		srv, serr, cerr := handshake(b, server, client)
		if serr != nil || cerr != nil {
			b.Fatalf("handshake: %v / %v", serr, cerr)
		}
		if telemetry {
			st.observeClosed(srv)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

// BenchmarkHandshake compares full handshakes per second without and with
// telemetry; run both in one go test -bench invocation.
func BenchmarkHandshake(b *testing.B) {
	b.Run("telemetry=off", func(b *testing.B) { benchmarkHandshakes(b, false) })
	b.Run("telemetry=on", func(b *testing.B) { benchmarkHandshakes(b, true) })
}

// BenchmarkHandshakeTelemetryRatio alternates handshakes without and with
// telemetry in one loop, so both see the same machine load, and reports
// the throughput with telemetry as a fraction of the throughput without
// (target: at least 0.97).
func BenchmarkHandshakeTelemetryRatio(b *testing.B) {
	cert := testCert{names: []string{"localhost"}}.generate(b)
	plain := handshakeServer(b, cert.Certificate)
	counted := handshakeServer(b, cert.Certificate)
	st := newServerStats(time.Now())
	st.wrap(counted)
	client := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}
	var off, on time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if _, serr, cerr := handshake(b, plain, client); serr != nil || cerr != nil {
			b.Fatalf("handshake: %v / %v", serr, cerr)
		}
		mid := time.Now()
		srv, serr, cerr := handshake(b, counted, client)
		if serr != nil || cerr != nil {
			b.Fatalf("handshake: %v / %v", serr, cerr)
		}
		st.observeClosed(srv)
		off += mid.Sub(start)
		on += time.Since(mid)
	}
	b.ReportMetric(off.Seconds()/on.Seconds(), "on/off")
	b.ReportMetric(float64(b.N)/off.Seconds(), "off-handshakes/s")
	b.ReportMetric(float64(b.N)/on.Seconds(), "on-handshakes/s")
}
