package sct

import (
	"bytes"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// marshal serializes s back to its RFC 6962 §3.2 encoding.
func marshal(s SCT) []byte {
	var b cryptobyte.Builder
	b.AddUint8(uint8(s.Version))
	b.AddBytes(s.LogID[:])
	b.AddUint64(uint64(s.Timestamp.UnixMilli()))
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.Extensions) })
	b.AddUint8(s.HashAlgorithm)
	b.AddUint8(s.SignatureAlgorithm)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(s.Signature) })
	return b.BytesOrPanic()
}

// FuzzParseList feeds arbitrary bytes to ParseList. It checks that a list
// that parses without error re-encodes to the same bytes (the TLS encoding
// has one form per value), that every SCT it returns is a v1 SCT, and
// that it agrees with certificate-transparency-go.
func FuzzParseList(f *testing.F) {
	a, b := sctBytes(logA, t0), sctBytes(logB, t0)
	for _, seed := range [][]byte{
		cat(be16(len(a)+2), be16(len(a)), a),
		cat(be16(2*len(a)+4), be16(len(a)), a, be16(len(b)), b),
		be16(0), a[:10],
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		scts, err := ParseList(in)
		for _, s := range scts {
			if s.Version != V1 || len(s.Signature) == 0 {
				t.Fatalf("ParseList returned %+v", s)
			}
		}
		if err == nil {
			var b cryptobyte.Builder
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, s := range scts {
					b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(marshal(s)) })
				}
			})
			if out := b.BytesOrPanic(); !bytes.Equal(out, in) {
				t.Fatalf("ParseList(%x) re-encodes as %x", in, out)
			}
		}
		agreeWithCTGo(t, in)
	})
}
