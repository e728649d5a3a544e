package tlsguard

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"
)

// caddyCurves is the group list Caddy gives a policy that sets none.
var caddyCurves = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}

// TestTelemetryKeyExchange runs real handshakes from Go clients that offer
// or leave out ML-KEM against a server with Caddy's default groups, and
// checks the negotiated groups, HelloRetryRequests, the share of clients
// offering ML-KEM and the per-site counts.
func TestTelemetryKeyExchange(t *testing.T) {
	cert := testCert{names: []string{"localhost", "a.example.test"}}.generate(t)
	st := newServerStats(time.Now())
	server := handshakeServer(t, cert.Certificate)
	server.CurvePreferences = caddyCurves
	st.wrap(server, st.index([]string{"localhost", "*.example.test", "b.example.test"}))

	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	client := func(name string, curves ...tls.CurveID) *tls.Config {
		return &tls.Config{ServerName: name, RootCAs: pool, CurvePreferences: curves}
	}
	resuming := client("localhost")
	resuming.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	tls12 := client("localhost", tls.CurveP256)
	tls12.MaxVersion = tls.VersionTLS12

	for _, tc := range []struct {
		name   string
		client *tls.Config
		group  tls.CurveID
		hrr    bool
		resume bool
	}{
		// Go's default: X25519MLKEM768 first, with its key share.
		{"default client", client("localhost"), tls.X25519MLKEM768, false, false},
		{"default client, wildcard site", client("a.example.test"), tls.X25519MLKEM768, false, false},
		{"ML-KEM left out", client("localhost", tls.X25519, tls.CurveP256), tls.X25519, false, false},
		{"ML-KEM left out, P-256 only", client("localhost", tls.CurveP256), tls.CurveP256, false, false},
		// The client offers a hybrid Caddy does not enable, with a key
		// share for it only: the server asks for X25519.
		{"unsupported hybrid only", client("localhost", tls.SecP256r1MLKEM768, tls.X25519), tls.X25519, true, false},
		{"tls1.2", tls12, tls.CurveP256, false, false},
		{"first of two", resuming, tls.X25519MLKEM768, false, false},
		// A TLS 1.3 resumption still runs a key exchange (psk_dhe_ke).
		{"resumed", resuming, tls.X25519MLKEM768, false, true},
	} {
		srv, serr, cerr := handshake(t, server, tc.client)
		if serr != nil || cerr != nil {
			t.Fatalf("%s: handshake: server %v, client %v", tc.name, serr, cerr)
		}
		cs := srv.ConnectionState()
		if cs.CurveID != tc.group || cs.HelloRetryRequest != tc.hrr || cs.DidResume != tc.resume {
			t.Fatalf("%s: negotiated %v, HRR %v, resumed %v; want %v, %v, %v (the test's premise is wrong)",
				tc.name, cs.CurveID, cs.HelloRetryRequest, cs.DidResume, tc.group, tc.hrr, tc.resume)
		}
		st.observeClosed(srv, false)
	}

	snap := st.snapshot([]string{"localhost", "*.example.test", "b.example.test"})
	rep := snap.report(nil)
	wantGroups := map[string]uint64{"x25519mlkem768": 4, "x25519": 2, "secp256r1": 2}
	for _, g := range groupSlotNames {
		if rep.KeyExchanges[g] != wantGroups[g] {
			t.Errorf("key_exchanges_by_group[%s] = %d, want %d", g, rep.KeyExchanges[g], wantGroups[g])
		}
		wantHRR := uint64(0)
		if g == "x25519" {
			wantHRR = 1
		}
		if rep.HelloRetryRequests[g] != wantHRR {
			t.Errorf("hello_retry_requests_by_group[%s] = %d, want %d", g, rep.HelloRetryRequests[g], wantHRR)
		}
	}
	// Seven full handshakes (the resumption has no certificate to pick),
	// four of them from clients offering a hybrid.
	if rep.ClientHellosOfferingMLKEM != 4 || rep.MLKEMClientShare == nil || *rep.MLKEMClientShare != 4.0/7.0 {
		t.Errorf("client hellos offering ML-KEM %d, share %v; want 4 of 7", rep.ClientHellosOfferingMLKEM, deref(rep.MLKEMClientShare))
	}
	if rep.PostQuantumShare == nil || *rep.PostQuantumShare != 4.0/8.0 {
		t.Errorf("post-quantum share %v, want 4/8", deref(rep.PostQuantumShare))
	}
	if rep.CompletedHandshakes != 8 {
		t.Errorf("%d completed handshakes, want 8", rep.CompletedHandshakes)
	}

	local, wild, other := snap.sites["localhost"].report(false), snap.sites["*.example.test"].report(false), snap.sites["b.example.test"].report(false)
	if local.Handshakes != 7 || local.PostQuantumShare == nil || *local.PostQuantumShare != 3.0/7.0 {
		t.Errorf("localhost: %d handshakes, share %v; want 7 and 3/7", local.Handshakes, deref(local.PostQuantumShare))
	}
	if wild.Handshakes != 1 || wild.PostQuantumShare == nil || *wild.PostQuantumShare != 1 {
		t.Errorf("*.example.test: %d handshakes, share %v; want 1 and 1", wild.Handshakes, deref(wild.PostQuantumShare))
	}
	if other.Handshakes != 0 || other.PostQuantumShare != nil {
		t.Errorf("b.example.test: %d handshakes, share %v; want 0 and null", other.Handshakes, deref(other.PostQuantumShare))
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestSiteIndexLookup(t *testing.T) {
	st := newServerStats(time.Now())
	ix := st.index([]string{"a.example", "*.example", "x.y.example", "10.0.0.1"})
	for sni, want := range map[string]string{
		"a.example":         "a.example",
		"A.Example":         "a.example",
		"b.example":         "*.example",
		"B.EXAMPLE":         "*.example",
		"x.y.example":       "x.y.example",
		"z.y.example":       "", // a wildcard covers one label
		"example":           "",
		"":                  "", // no SNI, no catch-all site
		"other.example.org": "",
	} {
		got := ix.lookup(sni)
		var wantStats *siteStats
		if want != "" {
			wantStats = ix[want]
		}
		if got != wantStats {
			t.Errorf("lookup(%q) found the wrong site (want %q)", sni, want)
		}
	}
	catchAll := st.index([]string{anySite, "a.example"})
	if catchAll.lookup("") != catchAll[anySite] || catchAll.lookup("zzz") != catchAll[anySite] || catchAll.lookup("a.example") != catchAll["a.example"] {
		t.Error("the catch-all site does not take the names no other site has")
	}
	// The counters of a site outlive the config: a reload indexes the
	// same ones.
	if st.index([]string{"a.example"})["a.example"] != ix["a.example"] {
		t.Error("a second index of the same server has new counters for a.example")
	}
}

func TestGroupSlots(t *testing.T) {
	for id, want := range map[tls.CurveID]string{
		tls.X25519MLKEM768: "x25519mlkem768", tls.SecP256r1MLKEM768: "secp256r1mlkem768", tls.SecP384r1MLKEM1024: "secp384r1mlkem1024",
		tls.X25519: "x25519", tls.CurveP256: "secp256r1", tls.CurveP384: "secp384r1", tls.CurveP521: "secp521r1",
		0: "none", 0x0100: "other", 0x11ee: "other",
	} {
		if got := groupSlotNames[groupSlot(id)]; got != want {
			t.Errorf("group %d in slot %s, want %s", id, got, want)
		}
	}
	// Caddy's names for the groups it supports are the slot names.
	for name, id := range map[string]tls.CurveID{"x25519mlkem768": tls.X25519MLKEM768, "x25519": tls.X25519, "secp256r1": tls.CurveP256} {
		if curveName(id) != name {
			t.Errorf("curveName(%d) = %s, slot %s", id, curveName(id), name)
		}
	}
	if !offersMLKEM([]tls.CurveID{0x0a0a, tls.X25519, tls.SecP384r1MLKEM1024}) || offersMLKEM([]tls.CurveID{0x0a0a, tls.X25519, tls.CurveP256}) {
		t.Error("offersMLKEM")
	}
}

// TestTelemetryConcurrent counts from several goroutines while the
// counters are read, as handshakes, scrapes and reports do; run with
// -race. The totals must be exact.
func TestTelemetryConcurrent(t *testing.T) {
	st := newServerStats(time.Now())
	sites := st.index([]string{"a.example", "*.example"})
	hello := &tls.ClientHelloInfo{SupportedVersions: []uint16{tls.VersionTLS13}, SupportedCurves: caddyCurves,
		Extensions: []uint16{extensionECH}}
	cs := tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256,
		CurveID: tls.X25519MLKEM768, ServerName: "b.example", ECHAccepted: true}
	const workers, each = 4, 500
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			default:
				_ = st.snapshot([]string{"a.example", "*.example"}).report([]string{"ech.example"})
				_ = st.index([]string{"a.example", "c.example"}) // a reload
			}
		}
	}()
	finished := make(chan struct{})
	for range workers {
		go func() {
			for range each {
				st.observeHello(hello)
				st.observeHandshake(&cs, sites.lookup(cs.ServerName))
			}
			finished <- struct{}{}
		}()
	}
	for range workers {
		<-finished
	}
	close(done)
	snap := st.snapshot([]string{"*.example"})
	rep := snap.report([]string{"ech.example"})
	const n = workers * each
	if rep.KeyExchanges["x25519mlkem768"] != n || rep.ClientHellosOfferingMLKEM != n || rep.ECH.Accepted != n || rep.ECH.ClientHellos != n {
		t.Errorf("counts %+v %+v, want %d each", rep.KeyExchanges, *rep.ECH, n)
	}
	if site := snap.sites["*.example"].report(true); site.Handshakes != n || site.ECH.Accepted != n {
		t.Errorf("site %+v, want %d", site, n)
	}
}
