package testpki

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// SCT describes a Signed Certificate Timestamp (RFC 6962 §3.2) to embed in
// a test certificate or send in the TLS extension. It is not signed over
// the certificate: nothing in hardtls verifies SCT signatures.
type SCT struct {
	// Version is the sct_version byte; 0 is v1, the only one defined.
	Version uint8
	// LogID is the log's key hash; LogIDFor makes one from a name.
	LogID     [32]byte
	Timestamp time.Time
	// Extensions are the SCT's CtExtensions, empty in every log today.
	Extensions []byte
	// Signature is the digitally-signed signature bytes; a minimal DER
	// ECDSA signature (r = s = 1) when nil.
	Signature []byte
}

// LogIDFor returns a log ID derived from name: SHA-256 of the name, the
// shape of a real log ID (the SHA-256 of the log's public key).
func LogIDFor(name string) [32]byte { return sha256.Sum256([]byte(name)) }

// Marshal returns s serialized as RFC 6962 §3.2 lays it out, with the
// signature algorithm ECDSA with SHA-256.
func (s SCT) Marshal() []byte {
	sig := s.Signature
	if sig == nil {
		sig = []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}
	}
	var b cryptobyte.Builder
	b.AddUint8(s.Version)
	b.AddBytes(s.LogID[:])
	b.AddUint64(uint64(s.Timestamp.UnixMilli()))
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.Extensions) })
	b.AddUint8(4) // hash: sha256 (RFC 5246 §7.4.1.4.1)
	b.AddUint8(3) // signature: ecdsa
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sig) })
	return b.BytesOrPanic()
}

// SCTList returns a SignedCertificateTimestampList (RFC 6962 §3.3) of the
// given serialized SCTs.
func SCTList(serialized ...[]byte) []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, s := range serialized {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s) })
		}
	})
	return b.BytesOrPanic()
}

// WithSCTList returns an edit for IssueWith that embeds list, as is (so it
// may be malformed), in the extension 1.3.6.1.4.1.11129.2.4.2: a DER
// OCTET STRING holding the TLS-encoded list (RFC 6962 §3.3).
func WithSCTList(list []byte) func(*x509.Certificate) {
	return func(tmpl *x509.Certificate) {
		value, err := asn1.Marshal(list)
		if err != nil {
			panic(err) // a byte slice always marshals
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{
			Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}, Value: value,
		})
	}
}
