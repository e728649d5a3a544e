package integration

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// echConfigListFromStorage builds the ECHConfigList clients would get
// from an HTTPS DNS record, from the ECH configs Caddy generated and keeps
// in its storage (ech/configs/<id>/config.bin, one ECHConfig each; the
// list is their concatenation with a 2-byte length, draft-ietf-tls-esni
// §4). Caddy publishes the list only through a DNS provider; without one
// this is how an operator gets it.
func echConfigListFromStorage(t *testing.T) []byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dataDir, "caddy", "ech", "configs", "*", "config.bin"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ECH config in Caddy's storage (%v)", err)
	}
	slices.Sort(files)
	var configs []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		configs = append(configs, b...)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(configs))), configs...)
}

// TestTLSGuardECH serves Encrypted ClientHello with Caddy's own keys
// (global option ech, no DNS publication) and makes handshakes from a Go
// client with the config list from Caddy's storage, with a stale list
// (the same config ID and another key), then with the retry configs the
// server sent back, and from clients without ECH (Go, and openssl 3.0,
// which has none). It checks the accepted count and share per server and
// per site, and the stale client's ech_required refusal, in /metrics and
// in the report: a fallback to plain SNI shows as a lower share.
func TestTLSGuardECH(t *testing.T) {
	load(t, caddyfile("local_certs\n\tech public.localhost\n\ttlsguard", `
secret.localhost {
	respond "ok"
}
`), "caddyfile")
	roots := localRoot(t)
	plain := &tls.Config{RootCAs: roots}
	waitServedGet(t, "secret.localhost", plain)
	// A client whose ECH is rejected checks the server's retry configs
	// against the public name's certificate.
	waitServedGet(t, "public.localhost", plain)

	list := echConfigListFromStorage(t)
	stale := slices.Clone(list)
	// Byte 11 is the first byte of the X25519 public key (after the
	// list length 2, version 2, length 2, config_id 1, kem_id 2, key
	// length 2): the same config ID with another key.
	stale[11] ^= 0xff

	before := scrape(t)
	reportBefore := tlsguardReport(t)

	withECH := func(list []byte) *tls.Config {
		return &tls.Config{RootCAs: roots, EncryptedClientHelloConfigList: list}
	}
	for range 2 {
		cs, err := dialGet("secret.localhost", withECH(list))
		if err != nil || !cs.ECHAccepted || cs.ServerName != "secret.localhost" {
			t.Fatalf("ECH with Caddy's config list: accepted %v (%v)", cs.ECHAccepted, err)
		}
	}
	_, err := dialGet("secret.localhost", withECH(stale))
	var rejected *tls.ECHRejectionError
	if !errors.As(err, &rejected) || len(rejected.RetryConfigList) == 0 {
		t.Fatalf("stale config list: %v; want the server to reject ECH and send retry configs", err)
	}
	if cs, err := dialGet("secret.localhost", withECH(rejected.RetryConfigList)); err != nil || !cs.ECHAccepted {
		t.Fatalf("retry configs: accepted %v (%v)", cs.ECHAccepted, err)
	}
	if cs, err := dialGet("secret.localhost", plain); err != nil || cs.ECHAccepted {
		t.Fatalf("no ECH: accepted %v (%v)", cs.ECHAccepted, err)
	}
	sClientGet(t, "secret.localhost", "-tls1_3")

	want := []rise{
		{"tlsguard_ech_client_hellos_total", labels{"server": "srv0"}, 4},
		{"tlsguard_ech_accepted_handshakes_total", labels{"server": "srv0"}, 3},
		{"tlsguard_refused_handshakes_total", labels{"reason": "ech_required", "server": "srv0"}, 1},
		{"tlsguard_site_handshakes_total", labels{"ech_accepted": "true", "key_exchange": "post_quantum", "server": "srv0", "site": "secret.localhost"}, 3},
		{"tlsguard_site_handshakes_total", labels{"ech_accepted": "false", "key_exchange": "post_quantum", "server": "srv0", "site": "secret.localhost"}, 1},
		{"tlsguard_site_handshakes_total", labels{"ech_accepted": "false", "key_exchange": "classical", "server": "srv0", "site": "secret.localhost"}, 1},
	}
	// The refusal is counted when Caddy closes the stale client's
	// connection, after the client has gone.
	var after metrics
	eventually(t, 10*time.Second, "the counters to rise by the handshakes made", func() (bool, string) {
		after = scrape(t)
		missed := risesMissed(before, after, want)
		return missed == "", missed
	})
	completed, _ := after.value("tlsguard_key_exchanges_total", nil)
	accepted, _ := after.value("tlsguard_ech_accepted_handshakes_total", labels{"server": "srv0"})
	ratio, _ := after.value("tlsguard_ech_accepted_ratio", labels{"server": "srv0"})
	if completed == 0 || ratio != accepted/completed {
		t.Errorf("tlsguard_ech_accepted_ratio %v, want accepted/completed = %v/%v", ratio, accepted, completed)
	}

	r := tlsguardReport(t)
	e, eBefore := r.Servers[0].Telemetry.ECH, reportBefore.Servers[0].Telemetry.ECH
	if e == nil || eBefore == nil {
		t.Fatal("no ech in the report's telemetry")
	}
	if !slices.Equal(e.PublicNames, []string{"public.localhost"}) || e.Accepted-eBefore.Accepted != 3 || e.Rejected-eBefore.Rejected != 1 ||
		e.AcceptedShare == nil || *e.AcceptedShare != ratio {
		t.Errorf("report ech %+v (before %+v); want public.localhost, 3 more accepted, 1 more rejected, share %v", *e, *eBefore, ratio)
	}
	site, siteBefore := siteReport(t, r, "secret.localhost").Telemetry, siteReport(t, reportBefore, "secret.localhost").Telemetry
	if site == nil || site.ECH == nil || site.ECH.AcceptedShare == nil ||
		site.ECH.Accepted-siteBefore.ECH.Accepted != 3 || site.Handshakes-siteBefore.Handshakes != 5 ||
		*site.ECH.AcceptedShare != float64(site.ECH.Accepted)/float64(site.Handshakes) {
		t.Errorf("site secret.localhost telemetry %+v; want 3 of 5 more handshakes with ECH", site)
	}
}
