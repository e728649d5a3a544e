// Command handshakes measures how many new TLS connections per second a
// server completes: every connection is a full handshake (the client keeps
// no session cache, so nothing is resumed), closed right after.
//
//	go run ./bench/cmd/handshakes -addr 127.0.0.1:8443 -servername localhost -cafile root.crt -d 10s
//
// -curves chooses the key exchange groups the client offers, by Caddy's
// names: the default is Go's list, which starts with the post-quantum
// x25519mlkem768; "-curves x25519,secp256r1" leaves ML-KEM out, as
// openssl 3.0 and older clients do.
//
// It prints one line: "handshakes_per_second <n> errors <n> groups
// <group>=<n>...", the groups the handshakes negotiated.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"sort"
	"strings"
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
	curves := flag.String("curves", "", "comma-separated key exchange groups to offer (x25519mlkem768, x25519, secp256r1, secp384r1, secp521r1); default: Go's")
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
	if *curves != "" {
		for _, name := range strings.Split(*curves, ",") {
			id, ok := groups[strings.TrimSpace(name)]
			if !ok {
				log.Fatalf("-curves: %q is not a group this client knows; use %s", name, groupNames())
			}
			cfg.CurvePreferences = append(cfg.CurvePreferences, id)
		}
	}
	var negotiated sync.Map // tls.CurveID -> *atomic.Int64

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
				cs := conn.ConnectionState()
				if cs.DidResume {
					log.Fatal("a handshake was resumed; the measurement needs full handshakes")
				}
				n, _ := negotiated.LoadOrStore(cs.CurveID, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
				conn.Close()
				done.Add(1)
			}
		}()
	}
	start := time.Now()
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	var counts []string
	negotiated.Range(func(k, v any) bool {
		counts = append(counts, fmt.Sprintf("%s=%d", groupName(k.(tls.CurveID)), v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(counts)
	fmt.Printf("handshakes_per_second %.0f errors %d groups %s\n", float64(done.Load())/elapsed, failed.Load(), strings.Join(counts, " "))
}

// groups are the key exchange groups -curves takes, by Caddy's names.
var groups = map[string]tls.CurveID{
	"x25519mlkem768": tls.X25519MLKEM768,
	"x25519":         tls.X25519,
	"secp256r1":      tls.CurveP256,
	"secp384r1":      tls.CurveP384,
	"secp521r1":      tls.CurveP521,
}

func groupNames() string {
	var names []string
	for name := range groups {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func groupName(id tls.CurveID) string {
	for name, g := range groups {
		if g == id {
			return name
		}
	}
	return id.String()
}
