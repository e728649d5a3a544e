package integration

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"

	"github.com/hardtls/caddy-hardtls/tlsguard"
)

// TestTLSGuardPostQuantum makes handshakes from Go clients that offer or
// leave out ML-KEM and from openssl 3.0 (which has no ML-KEM) against a
// site with Caddy's default groups (X25519MLKEM768 first) and a site whose
// policy offers X25519 only, and checks the counters by negotiated group,
// the HelloRetryRequests, the share of clients offering ML-KEM, each
// site's post-quantum share, and the finding on the policy without ML-KEM.
// openssl's own report of the group it negotiated ("Server Temp Key")
// checks what tlsguard counted.
func TestTLSGuardPostQuantum(t *testing.T) {
	load(t, caddyfile("local_certs\n\ttlsguard", `
pq.localhost {
	respond "ok"
}
classic.localhost {
	tls {
		curves x25519
	}
	respond "ok"
}
`), "caddyfile")
	roots := localRoot(t)
	waitServedGet(t, "pq.localhost", &tls.Config{RootCAs: roots})
	waitServedGet(t, "classic.localhost", &tls.Config{RootCAs: roots})

	before := scrape(t)
	reportBefore := tlsguardReport(t)

	goClient := func(curves ...tls.CurveID) *tls.Config {
		return &tls.Config{RootCAs: roots, CurvePreferences: curves}
	}
	for _, tc := range []struct {
		name   string
		host   string
		client *tls.Config
		n      int
		group  tls.CurveID
		hrr    bool
	}{
		{"Go default (ML-KEM first)", "pq.localhost", goClient(), 3, tls.X25519MLKEM768, false},
		{"Go without ML-KEM", "pq.localhost", goClient(tls.X25519, tls.CurveP256), 2, tls.X25519, false},
		// A hybrid Caddy does not enable, with its key share only: the
		// server asks for X25519.
		{"Go with SecP256r1MLKEM768 only", "pq.localhost", goClient(tls.SecP256r1MLKEM768, tls.X25519), 1, tls.X25519, true},
		// The client offers ML-KEM; the policy does not take it.
		{"Go default, X25519-only policy", "classic.localhost", goClient(), 2, tls.X25519, false},
	} {
		for range tc.n {
			cs, err := dialGet(tc.host, tc.client)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if cs.CurveID != tc.group || cs.HelloRetryRequest != tc.hrr {
				t.Fatalf("%s: the client negotiated %v (HelloRetryRequest %v), want %v (%v)", tc.name, cs.CurveID, cs.HelloRetryRequest, tc.group, tc.hrr)
			}
		}
	}
	for _, tc := range []struct {
		host string
		args []string
		n    int
	}{
		// openssl 3.0's default groups start with X25519, with its share.
		{"pq.localhost", nil, 2},
		// A key share for P-256 only, which the policy does not take:
		// HelloRetryRequest for X25519.
		{"classic.localhost", []string{"-groups", "P-256:X25519"}, 1},
	} {
		for range tc.n {
			if out := sClientGet(t, tc.host, append([]string{"-tls1_3"}, tc.args...)...); !strings.Contains(out, "Server Temp Key: X25519") {
				t.Fatalf("openssl s_client %s %v: want X25519 negotiated:\n%s", tc.host, tc.args, out)
			}
		}
	}

	after := scrape(t)
	if missed := risesMissed(before, after, []rise{
		{"tlsguard_key_exchanges_total", labels{"group": "x25519mlkem768", "hello_retry_request": "false", "server": "srv0"}, 3},
		{"tlsguard_key_exchanges_total", labels{"group": "x25519mlkem768", "hello_retry_request": "true", "server": "srv0"}, 0},
		{"tlsguard_key_exchanges_total", labels{"group": "x25519", "hello_retry_request": "false", "server": "srv0"}, 6},
		{"tlsguard_key_exchanges_total", labels{"group": "x25519", "hello_retry_request": "true", "server": "srv0"}, 2},
		{"tlsguard_key_exchanges_total", labels{"group": "secp256r1", "hello_retry_request": "false", "server": "srv0"}, 0},
		{"tlsguard_mlkem_client_hellos_total", labels{"offered": "true", "server": "srv0"}, 6},
		{"tlsguard_mlkem_client_hellos_total", labels{"offered": "false", "server": "srv0"}, 5},
		{"tlsguard_site_handshakes_total", labels{"ech_accepted": "false", "key_exchange": "post_quantum", "server": "srv0", "site": "pq.localhost"}, 3},
		{"tlsguard_site_handshakes_total", labels{"ech_accepted": "false", "key_exchange": "classical", "server": "srv0", "site": "pq.localhost"}, 5},
		{"tlsguard_site_handshakes_total", labels{"ech_accepted": "false", "key_exchange": "post_quantum", "server": "srv0", "site": "classic.localhost"}, 0},
		{"tlsguard_site_handshakes_total", labels{"ech_accepted": "false", "key_exchange": "classical", "server": "srv0", "site": "classic.localhost"}, 3},
	}); missed != "" {
		t.Error(missed)
	}
	all, _ := after.value("tlsguard_key_exchanges_total", nil)
	pqAll, _ := after.value("tlsguard_key_exchanges_total", labels{"group": "x25519mlkem768"})
	hellos, _ := after.value("tlsguard_mlkem_client_hellos_total", nil)
	offering, _ := after.value("tlsguard_mlkem_client_hellos_total", labels{"offered": "true"})
	pqRatio, _ := after.value("tlsguard_post_quantum_handshake_ratio", labels{"server": "srv0"})
	if all == 0 || pqRatio != pqAll/all {
		t.Errorf("post-quantum ratio %v, want %v/%v", pqRatio, pqAll, all)
	}
	if got, _ := after.value("tlsguard_mlkem_client_ratio", labels{"server": "srv0"}); hellos == 0 || got != offering/hellos {
		t.Errorf("ML-KEM client ratio %v, want %v/%v", got, offering, hellos)
	}

	r := tlsguardReport(t)
	tr, trBefore := r.Servers[0].Telemetry, reportBefore.Servers[0].Telemetry
	if got := tr.HelloRetryRequests["x25519"] - trBefore.HelloRetryRequests["x25519"]; got != 2 {
		t.Errorf("report: hello_retry_requests_by_group.x25519 rose by %d, want 2", got)
	}
	if got := tr.KeyExchanges["x25519mlkem768"] - trBefore.KeyExchanges["x25519mlkem768"]; got != 3 {
		t.Errorf("report: key_exchanges_by_group.x25519mlkem768 rose by %d, want 3", got)
	}
	if tr.PostQuantumShare == nil || *tr.PostQuantumShare != pqRatio {
		t.Errorf("report post_quantum_share %v, metrics %v", tr.PostQuantumShare, pqRatio)
	}
	siteTelemetry := func(r tlsguard.Report, host string) tlsguard.SiteTelemetry {
		s := siteReport(t, r, host)
		if s.Telemetry == nil {
			t.Fatalf("site %s has no telemetry", host)
		}
		return *s.Telemetry
	}
	pq, pqBefore := siteTelemetry(r, "pq.localhost"), siteTelemetry(reportBefore, "pq.localhost")
	if pq.Handshakes-pqBefore.Handshakes != 8 || pq.PostQuantumShare == nil {
		t.Errorf("pq.localhost: %d handshakes since, share %v; want 8 and a share", pq.Handshakes-pqBefore.Handshakes, pq.PostQuantumShare)
	}
	classic := siteTelemetry(r, "classic.localhost")
	if classic.PostQuantumShare == nil || *classic.PostQuantumShare != 0 {
		t.Errorf("classic.localhost post-quantum share %v, want 0", classic.PostQuantumShare)
	}

	// The finding names the policy classic.localhost selects, and only it.
	classicPolicy := policyOf(t, r, "classic.localhost").Index
	var flagged []int
	for _, f := range r.Findings {
		if f.Code == "policy.curves.no_post_quantum" && f.Policy != nil {
			flagged = append(flagged, *f.Policy)
			if f.Severity.String() != "warning" || f.Value != "x25519" {
				t.Errorf("finding %+v", f)
			}
		}
	}
	if !slices.Equal(flagged, []int{classicPolicy}) {
		t.Errorf("policy.curves.no_post_quantum on policies %v, want only %d (classic.localhost's)", flagged, classicPolicy)
	}
}
