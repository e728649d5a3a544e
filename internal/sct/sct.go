// Package sct reads Signed Certificate Timestamps (SCTs, RFC 6962): the
// promises of Certificate Transparency logs to publish a certificate,
// embedded in the certificate itself or sent in the TLS handshake, and
// checks a certificate against Chrome's CT policy.
//
// It parses and counts SCTs; it does not verify their signatures, which
// needs the logs' public keys from a log list this package does not carry.
// A count is therefore what the certificate claims, the same claim Chrome
// verifies: a certificate that fails the count fails in Chrome too, while
// one that passes it may still carry SCTs Chrome rejects.
package sct

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cryptobyte_asn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// oidSCTList is the X.509 extension that embeds a
// SignedCertificateTimestampList in a certificate (RFC 6962 §3.3).
var oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

// OIDEmbedded returns the OID of the X.509 extension holding embedded
// SCTs, 1.3.6.1.4.1.11129.2.4.2.
func OIDEmbedded() asn1.ObjectIdentifier { return append(asn1.ObjectIdentifier(nil), oidSCTList...) }

// Version is an SCT's sct_version. RFC 6962 defines only v1, encoded 0.
type Version uint8

// V1 is the only SCT version RFC 6962 defines.
const V1 Version = 0

// String returns "v1" for V1 and "unknown(N)" otherwise.
func (v Version) String() string {
	if v == V1 {
		return "v1"
	}
	return fmt.Sprintf("unknown(%d)", uint8(v))
}

// MarshalText renders the version as String does.
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads what MarshalText writes, so that a report holding
// SCTs decodes again.
func (v *Version) UnmarshalText(b []byte) error {
	if string(b) == "v1" {
		*v = V1
		return nil
	}
	var n uint8
	if _, err := fmt.Sscanf(string(b), "unknown(%d)", &n); err != nil {
		return fmt.Errorf("SCT version %q: want v1 or unknown(N)", b)
	}
	*v = Version(n)
	return nil
}

// LogID identifies a CT log: the SHA-256 hash of its public key
// (RFC 6962 §3.2).
type LogID [32]byte

// String returns the log ID in standard base64, the form log lists
// (log_list.json "log_id") and crt.sh use.
func (id LogID) String() string { return base64.StdEncoding.EncodeToString(id[:]) }

// MarshalText renders the log ID as String does.
func (id LogID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText reads what MarshalText writes: 32 bytes in standard
// base64.
func (id *LogID) UnmarshalText(b []byte) error {
	raw, err := base64.StdEncoding.DecodeString(string(b))
	if err != nil || len(raw) != len(id) {
		return fmt.Errorf("log ID %q: want the base64 of 32 bytes", b)
	}
	copy(id[:], raw)
	return nil
}

// Source says how an SCT reached the client.
type Source string

// Sources of SCTs. Chrome's policy counts embedded SCTs differently from
// those delivered in the handshake.
const (
	// SourceEmbedded is the certificate's own SCT list extension.
	SourceEmbedded Source = "embedded"
	// SourceTLS is the signed_certificate_timestamp TLS extension
	// (RFC 6962 §3.3), which the server sends next to the certificate.
	SourceTLS Source = "tls"
)

// SCT is one parsed Signed Certificate Timestamp (RFC 6962 §3.2):
//
//	struct {
//	    Version sct_version;
//	    LogID id;
//	    uint64 timestamp;
//	    CtExtensions extensions;      // opaque <0..2^16-1>
//	    digitally-signed struct {...}; // RFC 5246 §4.7
//	} SignedCertificateTimestamp;
type SCT struct {
	Source  Source  `json:"source"`
	Version Version `json:"version"`
	// The fields below are set only for a v1 SCT: the layout of other
	// versions is unknown.
	LogID LogID `json:"log_id"`
	// Timestamp is when the log issued the SCT (milliseconds since the
	// epoch on the wire).
	Timestamp  time.Time `json:"timestamp"`
	Extensions []byte    `json:"extensions,omitempty"`
	// HashAlgorithm and SignatureAlgorithm are the TLS
	// SignatureAndHashAlgorithm of the signature (RFC 5246 §7.4.1.4.1):
	// logs use SHA-256 (4) with ECDSA (3) or RSA (1).
	HashAlgorithm      uint8  `json:"-"`
	SignatureAlgorithm uint8  `json:"-"`
	Signature          []byte `json:"-"`
}

// Algorithm names the signature algorithm, e.g. "ecdsa-sha256".
func (s SCT) Algorithm() string {
	var sig, hash string
	switch s.SignatureAlgorithm {
	case 0:
		sig = "anonymous"
	case 1:
		sig = "rsa"
	case 2:
		sig = "dsa"
	case 3:
		sig = "ecdsa"
	default:
		sig = fmt.Sprintf("signature(%d)", s.SignatureAlgorithm)
	}
	switch s.HashAlgorithm {
	case 0:
		hash = "none"
	case 1:
		hash = "md5"
	case 2:
		hash = "sha1"
	case 3:
		hash = "sha224"
	case 4:
		hash = "sha256"
	case 5:
		hash = "sha384"
	case 6:
		hash = "sha512"
	default:
		hash = fmt.Sprintf("hash(%d)", s.HashAlgorithm)
	}
	return sig + "-" + hash
}

// Parse parses one serialized SCT: the contents of a SerializedSCT, as
// found in an SCT list or in tls.ConnectionState.SignedCertificateTimestamps.
// An SCT of a version other than v1 is returned with only its Version set,
// and an error: clients ignore such SCTs (RFC 6962 §3.2).
func Parse(b []byte) (SCT, error) {
	var s SCT
	in := cryptobyte.String(b)
	var version uint8
	if !in.ReadUint8(&version) {
		return s, errors.New("SCT is empty: expected at least a version byte")
	}
	s.Version = Version(version)
	if s.Version != V1 {
		return s, fmt.Errorf("SCT version %d is not supported: RFC 6962 defines only v1, encoded 0", version)
	}
	if !in.CopyBytes(s.LogID[:]) {
		return s, fmt.Errorf("SCT truncated: expected a 32-byte log ID, found %d bytes", len(in))
	}
	var ms uint64
	if !in.ReadUint64(&ms) {
		return s, fmt.Errorf("SCT truncated: expected an 8-byte timestamp, found %d bytes", len(in))
	}
	if ms > math.MaxInt64 {
		return s, fmt.Errorf("SCT timestamp %d ms is out of range", ms)
	}
	s.Timestamp = time.UnixMilli(int64(ms)).UTC()
	var ext cryptobyte.String
	if err := readVector16(&in, &ext, "extensions"); err != nil {
		return s, err
	}
	if len(ext) > 0 {
		s.Extensions = []byte(ext)
	}
	if !in.ReadUint8(&s.HashAlgorithm) || !in.ReadUint8(&s.SignatureAlgorithm) {
		return s, errors.New("SCT truncated: expected a 2-byte signature algorithm")
	}
	var sig cryptobyte.String
	if err := readVector16(&in, &sig, "signature"); err != nil {
		return s, err
	}
	if len(sig) == 0 {
		return s, errors.New("SCT signature is empty")
	}
	s.Signature = []byte(sig)
	if len(in) > 0 {
		return s, fmt.Errorf("SCT has %d trailing bytes after its signature", len(in))
	}
	return s, nil
}

// readVector16 reads an opaque<0..2^16-1> named name, saying what the
// length prefix promised and what was there when they differ.
func readVector16(in *cryptobyte.String, out *cryptobyte.String, name string) error {
	if len(*in) < 2 {
		return fmt.Errorf("SCT truncated: expected a 2-byte %s length, found %d bytes", name, len(*in))
	}
	n := int((*in)[0])<<8 | int((*in)[1])
	if len(*in)-2 < n {
		return fmt.Errorf("SCT %s overruns the SCT: length says %d bytes, %d remain", name, n, len(*in)-2)
	}
	in.ReadUint16LengthPrefixed(out)
	return nil
}

// ParseList parses a TLS-encoded SignedCertificateTimestampList
// (RFC 6962 §3.3):
//
//	opaque SerializedSCT<1..2^16-1>;
//	struct { SerializedSCT sct_list <1..2^16-1>; } SignedCertificateTimestampList;
//
// It returns every SCT it could parse, with Source unset. An SCT that does
// not parse is left out and its error joined into the returned error; a
// list whose framing is broken (a length that overruns, trailing bytes, an
// empty list or entry) stops at the break.
func ParseList(b []byte) ([]SCT, error) {
	scts, errs := parseList(b)
	return scts, errors.Join(errs...)
}

func parseList(b []byte) ([]SCT, []error) {
	in := cryptobyte.String(b)
	if len(in) < 2 {
		return nil, []error{fmt.Errorf("SCT list truncated: expected a 2-byte length, found %d bytes", len(in))}
	}
	n := int(in[0])<<8 | int(in[1])
	var list cryptobyte.String
	switch {
	case n == 0:
		return nil, []error{errors.New("SCT list is empty: RFC 6962 §3.3 requires at least one SCT")}
	case len(in)-2 < n:
		return nil, []error{fmt.Errorf("SCT list overruns its data: length says %d bytes, %d follow", n, len(in)-2)}
	case len(in)-2 > n:
		return nil, []error{fmt.Errorf("SCT list has %d trailing bytes after its %d-byte body", len(in)-2-n, n)}
	}
	in.ReadUint16LengthPrefixed(&list)

	var scts []SCT
	var errs []error
	for i := 0; !list.Empty(); i++ {
		if len(list) < 2 {
			errs = append(errs, fmt.Errorf("SCT %d: truncated: expected a 2-byte length, found %d bytes", i, len(list)))
			break
		}
		n := int(list[0])<<8 | int(list[1])
		if n == 0 {
			errs = append(errs, fmt.Errorf("SCT %d is empty: RFC 6962 §3.3 requires 1 to 65535 bytes", i))
			break
		}
		if len(list)-2 < n {
			errs = append(errs, fmt.Errorf("SCT %d overruns the list: length says %d bytes, %d remain", i, n, len(list)-2))
			break
		}
		var raw cryptobyte.String
		list.ReadUint16LengthPrefixed(&raw)
		s, err := Parse(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("SCT %d: %w", i, err))
			continue
		}
		scts = append(scts, s)
	}
	return scts, errs
}

// Embedded returns the SCTs embedded in cert: the extension
// 1.3.6.1.4.1.11129.2.4.2, whose value is a DER OCTET STRING holding a
// TLS-encoded SignedCertificateTimestampList (RFC 6962 §3.3). It returns
// nil and no error when cert has no such extension.
func Embedded(cert *x509.Certificate) ([]SCT, error) {
	scts, errs := embedded(cert)
	return scts, errors.Join(errs...)
}

func embedded(cert *x509.Certificate) ([]SCT, []error) {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSCTList) {
			continue
		}
		der := cryptobyte.String(ext.Value)
		var list cryptobyte.String
		if !der.ReadASN1(&list, cryptobyte_asn1.OCTET_STRING) {
			found := "nothing"
			if len(ext.Value) > 0 {
				found = fmt.Sprintf("tag 0x%02x", ext.Value[0])
			}
			return nil, []error{fmt.Errorf("embedded SCT list: expected a DER OCTET STRING, found %s", found)}
		}
		if !der.Empty() {
			return nil, []error{fmt.Errorf("embedded SCT list: %d trailing bytes after the OCTET STRING", len(der))}
		}
		scts, errs := parseList(list)
		for i := range scts {
			scts[i].Source = SourceEmbedded
		}
		for i, err := range errs {
			errs[i] = fmt.Errorf("embedded SCT list: %w", err)
		}
		return scts, errs
	}
	return nil, nil
}

// FromTLS parses the SCTs a server sent in the signed_certificate_timestamp
// TLS extension, as tls.ConnectionState.SignedCertificateTimestamps or
// tls.Certificate.SignedCertificateTimestamps hold them: one serialized SCT
// each. SCTs that do not parse are left out and their errors joined.
func FromTLS(serialized [][]byte) ([]SCT, error) {
	scts, errs := fromTLS(serialized)
	return scts, errors.Join(errs...)
}

func fromTLS(serialized [][]byte) ([]SCT, []error) {
	var scts []SCT
	var errs []error
	for i, b := range serialized {
		s, err := Parse(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("TLS SCT %d: %w", i, err))
			continue
		}
		s.Source = SourceTLS
		scts = append(scts, s)
	}
	return scts, errs
}
