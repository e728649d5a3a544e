package tlsguard

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// echKey returns an ECH config for publicName with a new X25519 key
// (draft-ietf-tls-esni: version 0xfe0d, DHKEM(X25519, HKDF-SHA256),
// HKDF-SHA256 with AES-128-GCM, the only form Go's server takes) and the
// key the server needs.
func echKey(t *testing.T, id uint8, publicName string) tls.EncryptedClientHelloKey {
	t.Helper()
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var b cryptobyte.Builder
	b.AddUint16(extensionECH)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint8(id)
		b.AddUint16(0x0020) // DHKEM(X25519, HKDF-SHA256)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(priv.PublicKey().Bytes()) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16(0x0001) // HKDF-SHA256
			b.AddUint16(0x0001) // AES-128-GCM
		})
		b.AddUint8(0) // maximum_name_length
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(publicName)) })
		b.AddUint16(0) // no extensions
	})
	return tls.EncryptedClientHelloKey{Config: b.BytesOrPanic(), PrivateKey: priv.Bytes(), SendAsRetry: true}
}

// echConfigList is the ECHConfigList clients get (an HTTPS record's ech
// parameter): the configs, length-prefixed.
func echConfigList(keys ...tls.EncryptedClientHelloKey) []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, k := range keys {
			b.AddBytes(k.Config)
		}
	})
	return b.BytesOrPanic()
}

// TestTelemetryECH runs real ECH handshakes from Go clients: with the
// server's config list, with a stale one (same config ID, another key),
// which the client abandons with ech_required and then retries with the
// configs the server sent back, and without ECH.
func TestTelemetryECH(t *testing.T) {
	cert := testCert{names: []string{"secret.example", "public.example"}}.generate(t)
	st := newServerStats(time.Now())
	server := handshakeServer(t, cert.Certificate)
	server.MinVersion = tls.VersionTLS13 // crypto/tls requires it with ECH keys
	current := echKey(t, 7, "public.example")
	server.EncryptedClientHelloKeys = []tls.EncryptedClientHelloKey{current}
	st.wrap(server, st.index([]string{"secret.example"}))

	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	client := func(list []byte) *tls.Config {
		return &tls.Config{ServerName: "secret.example", RootCAs: pool, EncryptedClientHelloConfigList: list}
	}
	// run serves one connection as net/http does: handshake, read until
	// the client is done, close, then the ConnState hook.
	run := func(name string, cfg *tls.Config, wantAccepted bool) error {
		t.Helper()
		sc, cc := tcpPair(t)
		srv := tls.Server(sc, server)
		clientErr := make(chan error, 1)
		go func() {
			cli := tls.Client(cc, cfg)
			err := cli.Handshake()
			cli.Close()
			clientErr <- err
		}()
		_ = srv.SetDeadline(time.Now().Add(5 * time.Second))
		if err := srv.Handshake(); err != nil {
			t.Fatalf("%s: server handshake: %v", name, err)
		}
		if got := srv.ConnectionState().ECHAccepted; got != wantAccepted {
			t.Fatalf("%s: ECH accepted %v, want %v", name, got, wantAccepted)
		}
		_, _ = srv.Read(make([]byte, 1)) // the request, or what ends the connection
		srv.Close()
		st.connState(true)(srv, http.StateClosed)
		return <-clientErr
	}

	if err := run("current config", client(echConfigList(current)), true); err != nil {
		t.Fatal(err)
	}
	stale := echKey(t, 7, "public.example")
	err := run("stale config", client(echConfigList(stale)), false)
	var rejected *tls.ECHRejectionError
	if !errors.As(err, &rejected) || len(rejected.RetryConfigList) == 0 {
		t.Fatalf("stale config: client error %v, want an ECH rejection with retry configs", err)
	}
	if err := run("retry configs", client(rejected.RetryConfigList), true); err != nil {
		t.Fatal(err)
	}
	if err := run("no ECH", client(nil), false); err != nil {
		t.Fatal(err)
	}

	snap := st.snapshot([]string{"secret.example"})
	rep := snap.report([]string{"public.example"})
	e := rep.ECH
	if e == nil {
		t.Fatal("no ech in the report")
	}
	// The abandoned handshake counts as completed (the server finished
	// before the client's alert), for the server only: its server name
	// is the public one.
	if e.ClientHellos != 3 || e.Accepted != 2 || e.Rejected != 1 || rep.CompletedHandshakes != 4 ||
		e.AcceptedShare == nil || *e.AcceptedShare != 0.5 {
		t.Errorf("ech %+v (share %v), %d completed; want 3 hellos, 2 accepted, 1 rejected, 4 completed, share 0.5",
			*e, deref(e.AcceptedShare), rep.CompletedHandshakes)
	}
	if rep.Refused["ech_required"] != 1 || rep.Refused["client_alert"] != 0 {
		t.Errorf("refused %v, want ech_required 1", rep.Refused)
	}
	site := snap.sites["secret.example"].report(true)
	if site.Handshakes != 3 || site.ECH == nil || site.ECH.Accepted != 2 || site.ECH.AcceptedShare == nil || *site.ECH.AcceptedShare != 2.0/3.0 {
		t.Errorf("site secret.example: %+v %+v, want 3 handshakes, 2 with ECH", site, site.ECH)
	}
	if snap.report(nil).ECH != nil || snap.sites["secret.example"].report(false).ECH != nil {
		t.Error("ECH counts reported where ECH is not configured")
	}
}
