package pinreport

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
)

// IssuerKind says who issued a certificate and keeps it renewed.
type IssuerKind uint8

// Issuer kinds, as they appear in the report and the metrics.
const (
	// KindManual is a certificate loaded from files or PEM by the config;
	// Caddy serves it but never renews it.
	KindManual IssuerKind = iota
	// KindACME is a certificate Caddy manages with an ACME CA.
	KindACME
	// KindInternal is a certificate Caddy manages with its own CA (the
	// pki app, "tls internal").
	KindInternal
)

// String returns the name used in JSON, logs and metric labels.
func (k IssuerKind) String() string {
	switch k {
	case KindACME:
		return "acme"
	case KindInternal:
		return "internal"
	}
	return "manual"
}

// origin is what the classifier learns about a certificate beyond its
// own bytes: who manages it and when its CA wants it renewed.
type origin struct {
	kind      IssuerKind
	issuerKey string // certmagic's issuer key, e.g. acme-v02.api.letsencrypt.org-directory or local
	ariAt     time.Time
	ariStart  time.Time
	ariEnd    time.Time
}

// entry is the inventory's record of one cached certificate. It is built
// once, when a certificate is first seen, and never changed: a renewal is
// a new certificate, hence a new entry. Names and the leaf are shared
// with Caddy's certificate cache, and chain certificates are shared
// between entries, to keep an entry small.
type entry struct {
	hash        string
	names       []string
	leaf        *x509.Certificate
	chain       []*chainCert // issuer first
	slot        string       // kind and sorted names; stays the same across renewals
	subject     string
	issuer      string // shared with the entries of the same issuer
	spki        Pin
	fingerprint [sha256.Size]byte
	origin
	renewAt time.Time // expected renewal point

	// Scan-only fields, guarded by state.scanMu.
	gen        uint64   // the last scan that saw the entry
	alerted    level    // the highest expiry level alerted
	mismatched []string // patterns whose pin mismatch was alerted
}

// chainCert is a certificate of a served chain above the leaf.
type chainCert struct {
	subject  string
	spki     Pin
	notAfter time.Time
}

// interner shares chainCerts and issuer names among entries: thousands
// of leaves have the same few issuers, parsed once.
type interner struct {
	certs   map[string]*chainCert
	issuers map[string]string // raw issuer DN → its string form
}

func newInterner() interner {
	return interner{certs: make(map[string]*chainCert), issuers: make(map[string]string)}
}

// issuerName returns the string form of a leaf's issuer DN.
func (in interner) issuerName(leaf *x509.Certificate) string {
	if s, ok := in.issuers[string(leaf.RawIssuer)]; ok {
		return s
	}
	s := leaf.Issuer.String()
	in.issuers[string(leaf.RawIssuer)] = s
	return s
}

// chainCert returns the shared record of a DER certificate, or nil when it
// does not parse.
func (in interner) chainCert(der []byte) *chainCert {
	if cc, ok := in.certs[string(der)]; ok {
		return cc
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil
	}
	cc := &chainCert{subject: cert.Subject.String(), spki: SPKIPin(cert), notAfter: cert.NotAfter}
	in.certs[string(der)] = cc
	return cc
}

// newEntry computes the entry of a certificate with a parsed leaf. ratio
// is the renewal window ratio that applies to it (certmagic's
// RenewalWindowRatio: renew when less than this part of the lifetime
// remains), used when the CA gave no ARI renewal time.
func newEntry(cert certmagic.Certificate, o origin, ratio float64, in interner) *entry {
	leaf := cert.Leaf
	e := &entry{
		hash:        cert.Hash(),
		names:       cert.Names,
		leaf:        leaf,
		spki:        SPKIPin(leaf),
		fingerprint: sha256.Sum256(leaf.Raw),
		origin:      o,
		slot:        o.kind.String() + "|" + slotOf(cert.Names),
		subject:     leaf.Subject.String(),
		issuer:      in.issuerName(leaf),
	}
	if chain := cert.Certificate.Certificate; len(chain) > 1 {
		e.chain = make([]*chainCert, 0, len(chain)-1)
		for _, der := range chain[1:] {
			if cc := in.chainCert(der); cc != nil {
				e.chain = append(e.chain, cc)
			}
		}
	}
	e.renewAt = renewalPoint(leaf.NotBefore, leaf.NotAfter, ratio)
	if !o.ariAt.IsZero() {
		e.renewAt = o.ariAt
	}
	return e
}

// renewalPoint is when certmagic starts renewing a certificate without
// ARI: once less than ratio of its lifetime remains.
func renewalPoint(notBefore, notAfter time.Time, ratio float64) time.Time {
	if ratio <= 0 || ratio >= 1 {
		ratio = certmagic.DefaultRenewalWindowRatio
	}
	lifetime := notAfter.Sub(notBefore)
	return notAfter.Add(-time.Duration(float64(lifetime) * ratio))
}

// slotOf names the place a certificate holds in the cache, which a
// renewal keeps: its sorted names.
func slotOf(names []string) string {
	if slices.IsSorted(names) {
		return strings.Join(names, ",")
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	return strings.Join(sorted, ",")
}

// firstName returns the name an entry is listed under.
func (e *entry) firstName() string {
	if len(e.names) == 0 {
		return ""
	}
	return e.names[0]
}

// lifetime is the validity period of the certificate.
func (e *entry) lifetime() time.Duration { return e.leaf.NotAfter.Sub(e.leaf.NotBefore) }

// chainPins returns the pins of the served chain, leaf first: the set
// OkHttp compares expected pins with.
func (e *entry) chainPins() []Pin {
	pins := make([]Pin, 0, 1+len(e.chain))
	pins = append(pins, e.spki)
	for _, cc := range e.chain {
		pins = append(pins, cc.spki)
	}
	return pins
}

// issuerPin returns the pin of the certificate that signed the leaf, if
// the chain holds it.
func (e *entry) issuerPin() (Pin, bool) {
	if len(e.chain) == 0 {
		return Pin{}, false
	}
	return e.chain[0].spki, true
}

// keyInfo describes a public key as a type name and a size in bits.
func keyInfo(cert *x509.Certificate) (string, int) {
	switch k := cert.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return "ecdsa", k.Curve.Params().BitSize
	case *rsa.PublicKey:
		return "rsa", k.N.BitLen()
	case ed25519.PublicKey:
		return "ed25519", 256
	}
	return strings.ToLower(cert.PublicKeyAlgorithm.String()), 0
}
