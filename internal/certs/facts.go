package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
)

// Pin is the SHA-256 digest of a DER-encoded SubjectPublicKeyInfo, the
// value that HPKP (RFC 7469 section 2.4), OkHttp's CertificatePinner,
// Android's <pin digest="SHA-256"> and DANE TLSA "x 1 1" records carry.
type Pin [sha256.Size]byte

// SPKIPin returns the pin of a certificate's public key.
func SPKIPin(cert *x509.Certificate) Pin {
	return sha256.Sum256(cert.RawSubjectPublicKeyInfo)
}

// String returns the pin as base64 (RFC 7469 pin-sha256), the form
// Android's network security config takes.
func (p Pin) String() string { return base64.StdEncoding.EncodeToString(p[:]) }

// OkHttp returns the pin in OkHttp's "sha256/<base64>" form.
func (p Pin) OkHttp() string { return "sha256/" + p.String() }

// Hex returns the pin in lowercase hex, the form of TLSA record data.
func (p Pin) Hex() string { return hex.EncodeToString(p[:]) }

// TLSA returns the data of a TLSA record with the given usage, selector 1
// (SubjectPublicKeyInfo) and matching type 1 (SHA-256): "3 1 1 <hex>".
func (p Pin) TLSA(usage int) string {
	return fmt.Sprintf("%d 1 1 %s", usage, p.Hex())
}

// Fingerprint is the SHA-256 of a certificate's DER encoding, what
// `openssl x509 -fingerprint -sha256` prints (with colons, in uppercase).
type Fingerprint [sha256.Size]byte

// FingerprintOf returns the fingerprint of a certificate.
func FingerprintOf(cert *x509.Certificate) Fingerprint { return sha256.Sum256(cert.Raw) }

// String returns the fingerprint in lowercase hex without colons.
func (f Fingerprint) String() string { return hex.EncodeToString(f[:]) }

// Key returns the type of a certificate's public key (rsa, ecdsa, ed25519,
// or Go's name for another algorithm) and its size in bits as OpenSSL's
// EVP_PKEY_get_bits counts it, the size `openssl s_client` prints as
// "Server public key is N bit" and testssl.sh reports: the modulus for
// RSA, the field size for ECDSA curves, and 256 for Ed25519 (OpenSSL's
// ED25519_BITS; X25519 would be 253).
func Key(cert *x509.Certificate) (string, int) {
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		return "rsa", k.N.BitLen()
	case *ecdsa.PublicKey:
		return "ecdsa", k.Curve.Params().BitSize
	case ed25519.PublicKey:
		return "ed25519", 256
	}
	return strings.ToLower(cert.PublicKeyAlgorithm.String()), 0
}

// IsSelfSigned reports whether a certificate is signed by its own key. A
// SHA-1 self-signature counts although Go refuses to verify SHA-1
// signatures. Only a certificate whose issuer is its subject is checked,
// so that most leaves cost a byte comparison.
func IsSelfSigned(cert *x509.Certificate) bool {
	if !bytes.Equal(cert.RawIssuer, cert.RawSubject) {
		return false
	}
	err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature)
	var insecure x509.InsecureAlgorithmError
	return err == nil || errors.As(err, &insecure)
}

// SerialHex returns the serial number in uppercase hex, as
// `openssl x509 -serial` prints it.
func SerialHex(cert *x509.Certificate) string {
	if cert.SerialNumber == nil {
		return ""
	}
	return strings.ToUpper(hex.EncodeToString(cert.SerialNumber.Bytes()))
}

// Facts are what hardtls knows about one cached certificate, computed once
// when it is first seen. Names and the leaf are shared with Caddy's
// certificate cache, and the issuer name and chain records with the other
// certificates of the same Interner, to keep Facts small.
type Facts struct {
	// Hash is certmagic's key of the certificate in its cache (a BLAKE3
	// hash of the whole chain): an identity, never reported as a digest.
	Hash   string
	Names  []string
	Leaf   *x509.Certificate
	Issuer string // the leaf's issuer DN
	SHA256 Fingerprint
	SPKI   Pin
	// Chain is the served chain above the leaf, issuer first.
	Chain      []*ChainCert
	SelfSigned bool
	Origin
}

// ChainCert is a certificate of a served chain above the leaf, shared by
// every Facts of an Interner that serves it.
type ChainCert struct {
	Subject  string
	SPKI     Pin
	NotAfter time.Time
	// Cert is the parsed certificate, to verify what it signed (a
	// CRL, an OCSP response). Never modify it.
	Cert *x509.Certificate
}

// Interner shares chain records and issuer names among Facts: thousands
// of leaves have the same few issuers, parsed once. It is not safe for
// concurrent use.
type Interner struct {
	chain   map[string]*ChainCert
	issuers map[string]string // raw issuer DN → its string form
}

// NewInterner returns an empty Interner.
func NewInterner() *Interner {
	return &Interner{chain: make(map[string]*ChainCert), issuers: make(map[string]string)}
}

// issuerName returns the string form of a leaf's issuer DN.
func (in *Interner) issuerName(leaf *x509.Certificate) string {
	if s, ok := in.issuers[string(leaf.RawIssuer)]; ok {
		return s
	}
	s := leaf.Issuer.String()
	in.issuers[string(leaf.RawIssuer)] = s
	return s
}

// chainCert returns the shared record of a DER certificate, or nil when it
// does not parse.
func (in *Interner) chainCert(der []byte) *ChainCert {
	if cc, ok := in.chain[string(der)]; ok {
		return cc
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil
	}
	cc := &ChainCert{Subject: cert.Subject.String(), SPKI: SPKIPin(cert), NotAfter: cert.NotAfter, Cert: cert}
	in.chain[string(der)] = cc
	return cc
}

// NewFacts computes the facts of a certificate with a parsed leaf, whose
// origin a Classifier found.
func NewFacts(cert *certmagic.Certificate, o Origin, in *Interner) Facts {
	leaf := cert.Leaf
	f := Facts{
		Hash:       cert.Hash(),
		Names:      cert.Names,
		Leaf:       leaf,
		Issuer:     in.issuerName(leaf),
		SHA256:     FingerprintOf(leaf),
		SPKI:       SPKIPin(leaf),
		SelfSigned: IsSelfSigned(leaf),
		Origin:     o,
	}
	if chain := cert.Certificate.Certificate; len(chain) > 1 {
		f.Chain = make([]*ChainCert, 0, len(chain)-1)
		for _, der := range chain[1:] {
			if cc := in.chainCert(der); cc != nil {
				f.Chain = append(f.Chain, cc)
			}
		}
	}
	return f
}

// FirstName returns the name the certificate is listed under.
func (f *Facts) FirstName() string { return firstName(f.Names) }

// Lifetime is the certificate's validity period, NotAfter minus NotBefore.
func (f *Facts) Lifetime() time.Duration { return f.Leaf.NotAfter.Sub(f.Leaf.NotBefore) }

// IssuerPin returns the pin of the certificate that signed the leaf, if
// the served chain holds it.
func (f *Facts) IssuerPin() (Pin, bool) {
	if len(f.Chain) == 0 {
		return Pin{}, false
	}
	return f.Chain[0].SPKI, true
}

// ChainPins returns the pins of the served chain, leaf first: the set
// OkHttp compares expected pins with.
func (f *Facts) ChainPins() []Pin {
	pins := make([]Pin, 0, 1+len(f.Chain))
	pins = append(pins, f.SPKI)
	for _, cc := range f.Chain {
		pins = append(pins, cc.SPKI)
	}
	return pins
}

// Summary is how every hardtls report describes a certificate (tlsguard's
// certificates, pinreport's inventory and alerts): one shape, with the same
// names and units everywhere. There is no key material in it.
type Summary struct {
	Names []string `json:"names"`
	// IssuerKind is who issued the certificate and keeps it renewed:
	// acme, internal (Caddy's own CA) or manual (loaded by the config).
	IssuerKind string `json:"issuer_kind"`
	Issuer     string `json:"issuer"`
	// Subject is omitted when empty, as it often is for ACME and
	// internal certificates.
	Subject string `json:"subject,omitempty"`
	// Serial is in uppercase hex, as `openssl x509 -serial` prints it.
	Serial    string    `json:"serial"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// LifetimeSeconds is NotAfter minus NotBefore.
	LifetimeSeconds int64 `json:"lifetime_seconds"`
	// RemainingSeconds is NotAfter minus the report's time; negative once
	// the certificate has expired.
	RemainingSeconds int64 `json:"remaining_seconds"`
	// KeyType is rsa, ecdsa or ed25519, and KeyBits the key size as
	// OpenSSL counts it (Ed25519: 256).
	KeyType            string `json:"key_type"`
	KeyBits            int    `json:"key_bits"`
	SignatureAlgorithm string `json:"signature_algorithm"`
	SelfSigned         bool   `json:"self_signed"`
	// SHA256Fingerprint is the lowercase hex SHA-256 of the leaf's DER,
	// what `openssl x509 -fingerprint -sha256` prints without colons.
	SHA256Fingerprint string `json:"sha256_fingerprint"`
	// SPKIPin is base64(sha256(SubjectPublicKeyInfo)) of the leaf.
	SPKIPin string `json:"spki_pin"`
}

// Summary describes the certificate at now.
func (f *Facts) Summary(now time.Time) Summary {
	leaf := f.Leaf
	keyType, keyBits := Key(leaf)
	return Summary{
		Names:              f.Names,
		IssuerKind:         f.Kind.String(),
		Issuer:             f.Issuer,
		Subject:            leaf.Subject.String(),
		Serial:             SerialHex(leaf),
		NotBefore:          leaf.NotBefore,
		NotAfter:           leaf.NotAfter,
		LifetimeSeconds:    int64(f.Lifetime() / time.Second),
		RemainingSeconds:   int64(leaf.NotAfter.Sub(now) / time.Second),
		KeyType:            keyType,
		KeyBits:            keyBits,
		SignatureAlgorithm: leaf.SignatureAlgorithm.String(),
		SelfSigned:         f.SelfSigned,
		SHA256Fingerprint:  f.SHA256.String(),
		SPKIPin:            f.SPKI.String(),
	}
}
