package certs

import (
	"bytes"
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

// opensslBin returns the openssl binary, or skips the test.
func opensslBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	return bin
}

// openssl runs openssl with stdin and returns its standard output.
func openssl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, opensslBin(t), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// TestFactsAgainstOpenSSL checks the SHA-256 fingerprint, the SPKI pin,
// the serial and the key size of certificates of every key type against
// what openssl computes from the same bytes.
func TestFactsAgainstOpenSSL(t *testing.T) {
	opensslBin(t)
	tc := newTestCache(t)
	for _, k := range []struct {
		name string
		key  crypto.Signer
		typ  string
	}{
		{"p256.example", testpki.ECDSAKey(t, elliptic.P256()), "ecdsa"},
		{"p384.example", testpki.ECDSAKey(t, elliptic.P384()), "ecdsa"},
		{"rsa.example", testpki.RSAKey(t, 2048), "rsa"},
		{"ed25519.example", testpki.Ed25519Key(t), "ed25519"},
	} {
		t.Run(k.name, func(t *testing.T) {
			cert := tc.addKey(t, []string{k.name}, k.key)
			f := NewFacts(&cert, Origin{}, NewInterner())
			s := f.Summary(time.Now())
			pemBytes := certPEM(cert.Leaf)

			// SHA256 Fingerprint=AB:CD:...
			fp := openssl(t, pemBytes, "x509", "-noout", "-fingerprint", "-sha256")
			_, fp, _ = strings.Cut(strings.TrimSpace(fp), "=")
			if want := strings.ToLower(strings.ReplaceAll(fp, ":", "")); s.SHA256Fingerprint != want {
				t.Errorf("sha256_fingerprint %s, openssl says %s", s.SHA256Fingerprint, want)
			}
			if s.SHA256Fingerprint == cert.Hash() {
				t.Error("sha256_fingerprint is certmagic's chain hash")
			}

			pub := openssl(t, pemBytes, "x509", "-noout", "-pubkey")
			der := openssl(t, []byte(pub), "pkey", "-pubin", "-outform", "der")
			pin := openssl(t, []byte(der), "dgst", "-sha256", "-binary")
			if want := strings.TrimSpace(openssl(t, []byte(pin), "base64")); s.SPKIPin != want {
				t.Errorf("spki_pin %s, openssl says %s", s.SPKIPin, want)
			}

			serial := openssl(t, pemBytes, "x509", "-noout", "-serial")
			if want := strings.TrimPrefix(strings.TrimSpace(serial), "serial="); s.Serial != want {
				t.Errorf("serial %s, openssl says %s", s.Serial, want)
			}

			if s.KeyType != k.typ {
				t.Errorf("key_type %s, want %s", s.KeyType, k.typ)
			}
			if want := serverKeyBits(t, cert.Certificate); s.KeyBits != want {
				t.Errorf("key_bits %d, openssl s_client says %d", s.KeyBits, want)
			}
		})
	}
}

// serverKeyBits serves cert on a loopback port and returns the size
// `openssl s_client` reports for the server's key ("Server public key is
// N bit", OpenSSL's EVP_PKEY_get_bits, the figure testssl.sh shows).
func serverKeyBits(t *testing.T, cert tls.Certificate) int {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
				_ = conn.(*tls.Conn).Handshake()
				_, _ = conn.Read(make([]byte, 1))
			}()
		}
	}()
	out := openssl(t, nil, "s_client", "-connect", ln.Addr().String(), "-servername", "facts.example")
	m := regexp.MustCompile(`Server public key is (\d+) bit`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no key size in openssl s_client's output:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestIsSelfSigned(t *testing.T) {
	self := testpki.SelfSigned(t, testpki.Leaf{Names: []string{"self.example"}})
	sha1Self := testpki.SelfSigned(t, testpki.Leaf{Names: []string{"sha1.example"}, Key: testpki.RSAKey(t, 2048), Sig: x509.SHA1WithRSA})
	issued := newTestCache(t).ca.Issue(t, testpki.Leaf{Names: []string{"issued.example"}})
	for _, tc := range []struct {
		cert *x509.Certificate
		want bool
	}{{self.Leaf, true}, {sha1Self.Leaf, true}, {issued.Leaf, false}} {
		if got := IsSelfSigned(tc.cert); got != tc.want {
			t.Errorf("%s: self-signed %v, want %v", tc.cert.Subject, got, tc.want)
		}
	}
}

func TestFactsShareChains(t *testing.T) {
	tc := newTestCache(t)
	now := time.Now()
	in := NewInterner()
	ca, cb := tc.add(t, []string{"a.example"}, now, time.Hour), tc.add(t, []string{"b.example"}, now, time.Hour)
	a, b := NewFacts(&ca, Origin{}, in), NewFacts(&cb, Origin{}, in)
	if len(a.Chain) != 1 || a.Chain[0] != b.Chain[0] {
		t.Fatalf("leaves of one intermediate should share its record; got %v and %v", a.Chain, b.Chain)
	}
	if a.Chain[0].SPKI != SPKIPin(tc.ca.Cert) || a.Chain[0].Subject != tc.ca.Cert.Subject.String() {
		t.Errorf("chain record %+v does not describe the intermediate", a.Chain[0])
	}
	if got := a.ChainPins(); len(got) != 2 || got[0] != SPKIPin(a.Leaf) || got[1] != SPKIPin(tc.ca.Cert) {
		t.Errorf("ChainPins %v: want leaf then issuer", got)
	}
	if p, ok := a.IssuerPin(); !ok || p != SPKIPin(tc.ca.Cert) {
		t.Errorf("IssuerPin %v %v", p, ok)
	}
	if a.Hash == "" || a.Hash == b.Hash {
		t.Errorf("hashes %q and %q: want the cache's distinct hashes", a.Hash, b.Hash)
	}
	if a.Issuer != b.Issuer || a.Issuer != tc.ca.Cert.Subject.String() {
		t.Errorf("issuers %q and %q", a.Issuer, b.Issuer)
	}
}

func TestSummaryLifetime(t *testing.T) {
	tc := newTestCache(t)
	nb := time.Now().Add(-time.Hour).Truncate(time.Second)
	cert := tc.add(t, []string{"life.example"}, nb, 90*24*time.Hour)
	f := NewFacts(&cert, Origin{Kind: KindACME}, NewInterner())
	s := f.Summary(nb.Add(24 * time.Hour))
	if s.LifetimeSeconds != 90*24*3600 || s.RemainingSeconds != 89*24*3600 {
		t.Errorf("lifetime %d s, remaining %d s", s.LifetimeSeconds, s.RemainingSeconds)
	}
	if s.IssuerKind != "acme" || s.SelfSigned || s.SignatureAlgorithm != "ECDSA-SHA256" {
		t.Errorf("summary %+v", s)
	}
}
