package testpki

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cryptobyte_asn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// NewCRLCA returns a self-signed root like NewCA whose key usage also
// allows signing CRLs (cRLSign, RFC 5280 §4.2.1.3): without it,
// x509.RevocationList.CheckSignatureFrom refuses the CA.
func NewCRLCA(tb testing.TB, name string, key crypto.Signer) *CA {
	tb.Helper()
	if key == nil {
		key = ECDSAKey(tb, elliptic.P256())
	}
	tmpl := caTemplate(tb, name)
	tmpl.KeyUsage |= x509.KeyUsageCRLSign
	cert := create(tb, tmpl, tmpl, key.Public(), key)
	return &CA{Cert: cert, Key: key, chain: [][]byte{cert.Raw}}
}

// WithCRL returns an edit for IssueWith that names urls as the
// certificate's CRL Distribution Points (RFC 5280 §4.2.1.13).
func WithCRL(urls ...string) func(*x509.Certificate) {
	return func(tmpl *x509.Certificate) { tmpl.CRLDistributionPoints = urls }
}

// CRL describes a certificate revocation list to sign.
type CRL struct {
	// Number is the CRL number; 1 when 0.
	Number int64
	// ThisUpdate defaults to an hour ago, NextUpdate to a day after
	// ThisUpdate.
	ThisUpdate, NextUpdate time.Time
	Revoked                []x509.RevocationListEntry
	// IDP, when set, adds a critical Issuing Distribution Point extension
	// naming these URLs, as Let's Encrypt's sharded CRLs carry.
	IDP             []string
	ExtraExtensions []pkix.Extension
}

// SignCRL signs c with ca and returns its DER.
func (ca *CA) SignCRL(tb testing.TB, c CRL) []byte {
	tb.Helper()
	if c.Number == 0 {
		c.Number = 1
	}
	if c.ThisUpdate.IsZero() {
		c.ThisUpdate = time.Now().Add(-time.Hour)
	}
	if c.NextUpdate.IsZero() {
		c.NextUpdate = c.ThisUpdate.Add(24 * time.Hour)
	}
	exts := c.ExtraExtensions
	if len(c.IDP) > 0 {
		exts = append(exts, IssuingDistributionPoint(c.IDP, true))
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(c.Number), ThisUpdate: c.ThisUpdate, NextUpdate: c.NextUpdate,
		RevokedCertificateEntries: c.Revoked, ExtraExtensions: exts,
	}, ca.Cert, ca.Key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// IssuingDistributionPoint returns a critical Issuing Distribution Point
// CRL extension (RFC 5280 §5.2.5) with urls as its full name and, when
// onlyUser is true, onlyContainsUserCerts set.
func IssuingDistributionPoint(urls []string, onlyUser bool) pkix.Extension {
	var b cryptobyte.Builder
	b.AddASN1(cryptobyte_asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		// distributionPoint [0] DistributionPointName, whose fullName
		// [0] is GeneralNames; a URI is GeneralName [6] IA5String.
		b.AddASN1(cryptobyte_asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cryptobyte_asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				for _, u := range urls {
					b.AddASN1(cryptobyte_asn1.Tag(6).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(u)) })
				}
			})
		})
		if onlyUser {
			b.AddASN1(cryptobyte_asn1.Tag(1).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddUint8(0xFF) })
		}
	})
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 28}, Critical: true, Value: b.BytesOrPanic()}
}

// CRLServer serves a CA's CRL on loopback HTTP, with an ETag and
// Last-Modified so clients can make conditional requests.
type CRLServer struct {
	// URL is the CRL's address, to name in certificates with WithCRL.
	URL string

	ca       *CA
	mu       sync.Mutex
	number   int64
	revoked  []x509.RevocationListEntry
	der      []byte
	modified time.Time
	requests atomic.Int64
	served   atomic.Int64
}

// ServeCRL starts serving ca's CRL at <server>/crl until the test ends:
// at first an empty CRL valid for a day, with an Issuing Distribution
// Point naming URL. ca must be able to sign CRLs (NewCRLCA).
func (ca *CA) ServeCRL(tb testing.TB) *CRLServer {
	tb.Helper()
	s := &CRLServer{ca: ca}
	srv := httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL + "/crl"
	s.resign(tb)
	return s
}

func (s *CRLServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if r.URL.Path != "/crl" {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	der, modified := s.der, s.modified
	s.mu.Unlock()
	sum := sha256.Sum256(der)
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("ETag", fmt.Sprintf(`"%x"`, sum[:8]))
	rec := &statusRecorder{ResponseWriter: w}
	// ServeContent answers If-None-Match and If-Modified-Since with 304.
	http.ServeContent(rec, r, "crl", modified, bytes.NewReader(der))
	if rec.status == http.StatusOK {
		s.served.Add(1)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Revoke adds serial to the CRL with reason (an RFC 5280 §5.3.1 CRLReason
// code) and serves a newly signed CRL with the next number.
func (s *CRLServer) Revoke(tb testing.TB, serial *big.Int, reason int) {
	tb.Helper()
	s.mu.Lock()
	s.revoked = append(s.revoked, x509.RevocationListEntry{SerialNumber: serial, RevocationTime: time.Now().Add(-time.Minute).UTC().Truncate(time.Second), ReasonCode: reason})
	s.mu.Unlock()
	s.resign(tb)
}

func (s *CRLServer) resign(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.number++
	s.der = s.ca.SignCRL(tb, CRL{Number: s.number, Revoked: s.revoked, IDP: []string{s.URL}})
	// Last-Modified has a resolution of a second: keep it increasing.
	now := time.Now().Truncate(time.Second)
	if !now.After(s.modified) {
		now = s.modified.Add(time.Second)
	}
	s.modified = now
}

// Requests returns how many requests the server has received.
func (s *CRLServer) Requests() int { return int(s.requests.Load()) }

// Served returns how many times the server sent the CRL's body (200),
// leaving out 304 Not Modified answers.
func (s *CRLServer) Served() int { return int(s.served.Load()) }
