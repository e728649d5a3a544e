// Package testpki issues certificates for hardtls's tests: roots,
// intermediates and leaves with the key types, signature algorithms and
// validity periods the tests need. It is for tests only; nothing it makes
// should be trusted.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA signs test certificates.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer

	// chain is what a leaf of this CA is served with: the CA's own
	// certificate (a root serves itself; an intermediate leaves the root
	// out).
	chain [][]byte
}

// NewCA returns a self-signed root named name, with key (a new ECDSA
// P-256 key when nil), valid from an hour ago for ten years.
func NewCA(tb testing.TB, name string, key crypto.Signer) *CA {
	tb.Helper()
	if key == nil {
		key = ECDSAKey(tb, elliptic.P256())
	}
	tmpl := caTemplate(tb, name)
	cert := create(tb, tmpl, tmpl, key.Public(), key)
	return &CA{Cert: cert, Key: key, chain: [][]byte{cert.Raw}}
}

// Intermediate returns a CA named name signed by ca, with a new P-256 key.
func (ca *CA) Intermediate(tb testing.TB, name string) *CA {
	tb.Helper()
	key := ECDSAKey(tb, elliptic.P256())
	cert := create(tb, caTemplate(tb, name), ca.Cert, key.Public(), ca.Key)
	return &CA{Cert: cert, Key: key, chain: [][]byte{cert.Raw}}
}

func caTemplate(tb testing.TB, name string) *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: Serial(tb), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
}

// Leaf describes a server certificate to issue.
type Leaf struct {
	Names []string                // DNS names; the first is also the common name
	Key   crypto.Signer           // a new ECDSA P-256 key when nil
	Sig   x509.SignatureAlgorithm // Go's default for the signer when 0
	// NotBefore defaults to an hour ago, Lifetime to 30 days.
	NotBefore time.Time
	Lifetime  time.Duration
}

// Issue signs l with ca and returns it as a TLS server presents it: the
// leaf, then the CA's certificate, with the private key and parsed leaf.
func (ca *CA) Issue(tb testing.TB, l Leaf) tls.Certificate {
	tb.Helper()
	return issue(tb, l, ca)
}

// SelfSigned returns l signed by its own key.
func SelfSigned(tb testing.TB, l Leaf) tls.Certificate {
	tb.Helper()
	return issue(tb, l, nil)
}

func issue(tb testing.TB, l Leaf, ca *CA) tls.Certificate {
	tb.Helper()
	if l.Key == nil {
		l.Key = ECDSAKey(tb, elliptic.P256())
	}
	if l.NotBefore.IsZero() {
		l.NotBefore = time.Now().Add(-time.Hour)
	}
	if l.Lifetime == 0 {
		l.Lifetime = 30 * 24 * time.Hour
	}
	tmpl := &x509.Certificate{
		SerialNumber: Serial(tb), Subject: pkix.Name{CommonName: l.Names[0]}, DNSNames: l.Names,
		NotBefore: l.NotBefore, NotAfter: l.NotBefore.Add(l.Lifetime), SignatureAlgorithm: l.Sig,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	parent, signer := tmpl, l.Key
	var chain [][]byte
	if ca != nil {
		parent, signer, chain = ca.Cert, ca.Key, ca.chain
	}
	leaf := create(tb, tmpl, parent, l.Key.Public(), signer)
	return tls.Certificate{Certificate: append([][]byte{leaf.Raw}, chain...), PrivateKey: l.Key, Leaf: leaf}
}

func create(tb testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	tb.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

// Serial returns a random positive 63-bit serial number.
func Serial(tb testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		tb.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

// ECDSAKey returns a new ECDSA key on curve.
func ECDSAKey(tb testing.TB, curve elliptic.Curve) crypto.Signer {
	tb.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// RSAKey returns a new RSA key of the given size.
func RSAKey(tb testing.TB, bits int) crypto.Signer {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// Ed25519Key returns a new Ed25519 key.
func Ed25519Key(tb testing.TB) crypto.Signer {
	tb.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// CertPEM returns the CA's certificate PEM-encoded: what a client that
// trusts the CA loads, such as Caddy's ca_root or a CA bundle file.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// WritePEM writes c's chain and key as <name>.pem and <name>-key.pem in
// dir (not .crt/.key: caddytest rewrites paths ending so) and returns the
// two paths.
func WritePEM(tb testing.TB, dir, name string, c tls.Certificate) (certFile, keyFile string) {
	tb.Helper()
	var certPEM []byte
	for _, der := range c.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		tb.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return certFile, keyFile
}
