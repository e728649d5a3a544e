package tlsguard

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"
)

// handshakeServer is a server-side TLS config like the one Caddy builds for
// a policy: certificates from GetCertificate, intermediate suites.
func handshakeServer(t testing.TB, cert tls.Certificate) *tls.Config {
	t.Helper()
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS13,
		CipherSuites: append([]uint16{tls.TLS_FALLBACK_SCSV}, intermediateProfile().Suites...),
		NextProtos:   []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return &cert, nil
		},
	}
}

// tcpPair returns the two ends of a loopback TCP connection (kernel
// buffers, unlike net.Pipe, let a side write while the other is busy).
func tcpPair(t testing.TB) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	return server, client
}

// handshake runs one handshake over loopback TCP and returns the server
// connection (handshake finished, closed) and both sides' errors.
func handshake(t testing.TB, server, client *tls.Config) (*tls.Conn, error, error) {
	sc, cc := tcpPair(t)
	srv := tls.Server(sc, server)
	cli := tls.Client(cc, client)
	clientErr := make(chan error, 1)
	go func() {
		err := cli.Handshake()
		if err == nil {
			// Read the server's byte, and with it any TLS 1.3 session
			// ticket, so that the next handshake can resume.
			_ = cli.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = cli.Read(make([]byte, 1))
		}
		cli.Close()
		clientErr <- err
	}()
	_ = srv.SetDeadline(time.Now().Add(5 * time.Second))
	serverErr := srv.Handshake()
	if serverErr == nil {
		_, _ = srv.Write([]byte{0})
	}
	cerr := <-clientErr
	srv.Close()
	return srv, serverErr, cerr
}

func TestTelemetryCounts(t *testing.T) {
	cert := testCert{names: []string{"localhost"}}.generate(t)
	st := newServerStats(time.Now())
	server := handshakeServer(t, cert.Certificate)
	st.wrap(server, nil)

	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	tls13 := &tls.Config{ServerName: "localhost", RootCAs: pool}
	tls12 := &tls.Config{ServerName: "localhost", RootCAs: pool, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}}
	resuming := &tls.Config{ServerName: "localhost", RootCAs: pool, ClientSessionCache: tls.NewLRUClientSessionCache(4)}

	run := func(client *tls.Config) {
		t.Helper()
		srv, serr, cerr := handshake(t, server, client)
		if serr != nil || cerr != nil {
			t.Fatalf("handshake: server %v, client %v", serr, cerr)
		}
		st.observeClosed(srv, false)
	}
	for range 3 {
		run(tls13)
	}
	for range 2 {
		run(tls12)
	}
	run(resuming)
	run(resuming)

	rep := st.snapshot(nil).report(nil)
	got := map[HandshakeCount]bool{}
	for _, h := range rep.Handshakes {
		got[h] = true
	}
	for _, want := range []HandshakeCount{
		{"tls1.3", "TLS_AES_128_GCM_SHA256", false, 4},
		{"tls1.3", "TLS_AES_128_GCM_SHA256", true, 1},
		{"tls1.2", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", false, 2},
	} {
		if !got[want] {
			t.Errorf("no %+v in %+v", want, rep.Handshakes)
		}
	}
	if rep.CompletedHandshakes != 7 {
		t.Errorf("%d completed handshakes, want 7", rep.CompletedHandshakes)
	}
	// The resumed handshake has no full ClientHello to count.
	if rep.ClientHellos["tls1.3"] != 4 || rep.ClientHellos["tls1.2"] != 2 {
		t.Errorf("client hellos %v, want 4 tls1.3 and 2 tls1.2", rep.ClientHellos)
	}
	if rep.TLS13ClientShare == nil || *rep.TLS13ClientShare != 4.0/6.0 {
		t.Errorf("TLS 1.3 share %v, want 4/6", rep.TLS13ClientShare)
	}
	for reason, n := range rep.Refused {
		if n != 0 {
			t.Errorf("refused %s = %d after successful handshakes", reason, n)
		}
	}
}

// TestRefusalReasons runs real failing handshakes and checks the reason
// tlsguard reads from Go's error.
func TestRefusalReasons(t *testing.T) {
	cert := testCert{names: []string{"localhost"}}.generate(t)
	insecure := func(c *tls.Config) *tls.Config {
		c.InsecureSkipVerify = true
		return c
	}
	for _, tc := range []struct {
		name      string
		server    func(*tls.Config)
		client    *tls.Config
		raw       []byte // sent instead of a TLS client
		reason    string
		maxHello  string // the client hello counted, if any
		wrapFirst bool
		completed uint64
	}{
		{name: "tls1.2 client, tls1.3 server", server: func(c *tls.Config) { c.MinVersion = tls.VersionTLS13 },
			client: insecure(&tls.Config{MaxVersion: tls.VersionTLS12}), reason: "protocol_version", maxHello: "tls1.2"},
		{name: "cbc-only client", client: insecure(&tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}}), reason: "no_shared_cipher", maxHello: "tls1.2"},
		{name: "no shared group", server: func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.X25519} },
			client: insecure(&tls.Config{MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.CurveP521}}),
			reason: "no_shared_group"},
		// TLS 1.3 negotiates ALPN before it asks for the certificate, so
		// the ClientHello goes uncounted.
		{name: "no shared alpn", client: insecure(&tls.Config{NextProtos: []string{"spdy/1"}}), reason: "no_shared_alpn"},
		{name: "no certificate", server: func(c *tls.Config) {
			c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return nil, errors.New("no certificate available for 'x'")
			}
		}, client: insecure(&tls.Config{}), reason: "no_certificate", maxHello: "tls1.3", wrapFirst: true},
		{name: "client certificate refused", server: func(c *tls.Config) {
			c.VerifyConnection = func(tls.ConnectionState) error { return errors.New("client leaf certificate failed validation") }
		}, client: insecure(&tls.Config{}), reason: "client_certificate", maxHello: "tls1.3", wrapFirst: true},
		// A TLS 1.3 server verifies the connection before it reads the
		// client's Finished: the handshake counts as completed and refused.
		{name: "client rejects the certificate", client: &tls.Config{ServerName: "localhost", RootCAs: x509.NewCertPool()},
			reason: "client_rejected_certificate", maxHello: "tls1.3", completed: 1},
		{name: "tls1.2 client rejects the certificate", client: &tls.Config{ServerName: "localhost", RootCAs: x509.NewCertPool(), MaxVersion: tls.VersionTLS12},
			reason: "client_rejected_certificate", maxHello: "tls1.2"},
		{name: "plain http", raw: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), reason: "not_tls"},
		{name: "client hangs up", raw: []byte{}, reason: "client_closed"},
		{name: "caddy drops", server: func(c *tls.Config) {
			c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return nil, errors.New("dropping connection") }
		}, client: insecure(&tls.Config{}), reason: "policy_drop"},
		{name: "caddy has no policy", server: func(c *tls.Config) {
			c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
				return nil, errors.New("no server TLS configuration available for ClientHello: ...")
			}
		}, client: insecure(&tls.Config{}), reason: "no_policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newServerStats(time.Now())
			server := handshakeServer(t, cert.Certificate)
			if tc.wrapFirst {
				tc.server(server) // Caddy's own callback, which tlsguard wraps
				st.wrap(server, nil)
			} else {
				st.wrap(server, nil)
				if tc.server != nil {
					tc.server(server)
				}
			}
			var srv *tls.Conn
			if tc.raw != nil {
				sc, cc := tcpPair(t)
				srv = tls.Server(sc, server)
				_, _ = cc.Write(tc.raw)
				cc.Close()
				_ = srv.SetDeadline(time.Now().Add(5 * time.Second))
				if srv.Handshake() == nil {
					t.Fatal("handshake succeeded")
				}
				srv.Close()
			} else {
				var serr error
				srv, serr, _ = handshake(t, server, tc.client)
				if serr == nil {
					t.Fatal("handshake succeeded")
				}
			}
			st.connState(false)(srv, http.StateActive) // ignored
			st.connState(false)(srv, http.StateClosed)
			rep := st.snapshot(nil).report(nil)
			for reason, n := range rep.Refused {
				want := uint64(0)
				if reason == tc.reason {
					want = 1
				}
				if n != want {
					err := srv.Handshake()
					t.Errorf("refused[%s] = %d, want %d (error: %v)", reason, n, want, err)
				}
			}
			var hellos []string
			for v, n := range rep.ClientHellos {
				for range n {
					hellos = append(hellos, v)
				}
			}
			var want []string
			if tc.maxHello != "" {
				want = []string{tc.maxHello}
			}
			if !slices.Equal(hellos, want) {
				t.Errorf("client hellos %v, want %v", hellos, want)
			}
			if rep.CompletedHandshakes != tc.completed {
				t.Errorf("%d completed handshakes, want %d", rep.CompletedHandshakes, tc.completed)
			}
		})
	}
}

func TestConnStateIgnoresPlainConns(t *testing.T) {
	st := newServerStats(time.Now())
	a, b := net.Pipe()
	defer b.Close()
	st.connState(true)(a, http.StateClosed)
	for reason, n := range st.snapshot(nil).report(nil).Refused {
		if n != 0 {
			t.Errorf("refused[%s] = %d for a plain connection", reason, n)
		}
	}
}

func TestOfferedVersions(t *testing.T) {
	for msg, want := range map[string][]uint16{
		"tls: client offered only unsupported versions: [303 302 301]": {0x303, 0x302, 0x301},
		"tls: client offered only unsupported versions: [301]":         {0x301},
		"tls: client offered only unsupported versions: []":            nil,
		"tls: something else": nil,
		"tls: client offered only unsupported versions: [zz]": nil,
	} {
		got, ok := offeredVersions(msg)
		if !slices.Equal(got, want) || ok != (want != nil) {
			t.Errorf("offeredVersions(%q) = %v, %v; want %v", msg, got, ok, want)
		}
	}
}

func TestMaxVersionSkipsGREASE(t *testing.T) {
	if got := maxVersion([]uint16{0x7a7a, tls.VersionTLS12, tls.VersionTLS13}); got != tls.VersionTLS13 {
		t.Errorf("maxVersion = %x", got)
	}
	if got := maxVersion([]uint16{0xfafa, tls.VersionTLS12}); got != tls.VersionTLS12 {
		t.Errorf("maxVersion with GREASE above = %x", got)
	}
}

func TestSuiteSlots(t *testing.T) {
	if len(suiteSlots) >= maxSuiteSlots {
		t.Fatalf("%d suites need more than maxSuiteSlots = %d", len(suiteSlots), maxSuiteSlots)
	}
	if suiteSlotName(suiteSlot(0x1234)) != "other" {
		t.Error("unknown suite not in the other slot")
	}
	if suiteSlotName(suiteSlot(tls.TLS_AES_256_GCM_SHA384)) != "TLS_AES_256_GCM_SHA384" {
		t.Error("TLS_AES_256_GCM_SHA384 misnamed")
	}
}
