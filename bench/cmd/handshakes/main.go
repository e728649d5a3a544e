// Command handshakes measures how many new TLS connections per second a
// server completes: every connection is a full handshake (the client keeps
// no session cache, so nothing is resumed), closed right after.
//
//	go run ./bench/cmd/handshakes -addr 127.0.0.1:8443 -servername localhost -cafile root.crt -d 10s
//
// It prints one line: "handshakes_per_second <n> errors <n>".
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "server address")
	serverName := flag.String("servername", "localhost", "SNI and name to verify")
	caFile := flag.String("cafile", "", "PEM file of the root to verify against (required)")
	conc := flag.Int("c", 8, "concurrent connections")
	dur := flag.Duration("d", 10*time.Second, "duration")
	maxVersion := flag.String("max", "1.3", "highest TLS version to offer: 1.2 or 1.3")
	flag.Parse()

	pemBytes, err := os.ReadFile(*caFile)
	if err != nil {
		log.Fatalf("reading -cafile: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		log.Fatalf("no certificate in %s", *caFile)
	}
	cfg := &tls.Config{ServerName: *serverName, RootCAs: roots, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13}
	if *maxVersion == "1.2" {
		cfg.MaxVersion = tls.VersionTLS12
	}

	var done, failed atomic.Int64
	deadline := time.Now().Add(*dur)
	var wg sync.WaitGroup
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: 5 * time.Second}
			for time.Now().Before(deadline) {
				conn, err := tls.DialWithDialer(&d, "tcp", *addr, cfg)
				if err != nil {
					failed.Add(1)
					continue
				}
				if conn.ConnectionState().DidResume {
					log.Fatal("a handshake was resumed; the measurement needs full handshakes")
				}
				conn.Close()
				done.Add(1)
			}
		}()
	}
	start := time.Now()
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	fmt.Printf("handshakes_per_second %.0f errors %d\n", float64(done.Load())/elapsed, failed.Load())
}
