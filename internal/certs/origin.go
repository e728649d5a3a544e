package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddypki"
	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3/acme"
)

// IssuerKind says who issued a certificate and keeps it renewed.
type IssuerKind uint8

// Issuer kinds, as they appear in the reports and the metrics.
const (
	// KindManual is a certificate loaded from files or PEM by the config;
	// Caddy serves it but never renews it.
	KindManual IssuerKind = iota
	// KindACME is a certificate Caddy manages with an ACME CA.
	KindACME
	// KindInternal is a certificate issued by Caddy's own CA (the pki
	// app, "tls internal").
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

// Origin is what a Classifier learns about a certificate beyond its own
// bytes: who manages it and when its CA wants it renewed.
type Origin struct {
	Kind IssuerKind
	// IssuerKey is certmagic's name of the issuer that manages the
	// certificate, e.g. acme-v02.api.letsencrypt.org-directory or local;
	// empty for manual ones.
	IssuerKey string
	// ARI is when the CA's renewal information says to renew; zero
	// without ARI.
	ARI ARI
}

// ARI is what an ACME CA's renewal information (ARI) says: a renewal time
// and the window it was picked in. It keeps Unix seconds (ARI has no
// finer resolution) rather than three time.Time values: inventories hold
// one per certificate, a million on an on-demand server.
type ARI struct{ at, start, end int64 }

// NewARI returns the ARI of a renewal time in a window; zero times stay
// zero.
func NewARI(at, start, end time.Time) ARI {
	return ARI{at: unixOrZero(at), start: unixOrZero(start), end: unixOrZero(end)}
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func timeOrZero(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// IsZero reports whether there is no ARI.
func (a ARI) IsZero() bool { return a.at == 0 }

// At is when the CA wants the certificate renewed.
func (a ARI) At() time.Time { return timeOrZero(a.at) }

// Start is the start of the window the CA suggested; zero if unknown.
func (a ARI) Start() time.Time { return timeOrZero(a.start) }

// End is the end of the window the CA suggested; zero if unknown.
func (a ARI) End() time.Time { return timeOrZero(a.end) }

// localCAName starts the names Caddy gives its own CAs' certificates
// ("Caddy Local Authority - 2026 ECC Root", "... ECC Intermediate").
const localCAName = "Caddy Local Authority"

// Classifier finds out who manages a certificate. The cache does not say
// (certmagic keeps it unexported), so it asks:
//  1. Caddy's own CAs (the pki app): a leaf signed by one, by its
//     authority key ID, is internal;
//  2. storage: a certificate certmagic manages is stored under
//     certificates/<issuer key>/<name>/<name>.crt, next to metadata that
//     holds the ACME CA's renewal information (ARI). During a renewal
//     storage is ahead of the cache (certmagic stores the new certificate
//     before the cache holds it), so a stored certificate that renews the
//     cached one (same issuer, same names, issued later) counts too;
//  3. otherwise it was loaded by the config: manual. Without a pki app, a
//     leaf whose issuer is named like Caddy's local CA is internal.
//
// A Classifier lists the storage's issuers at most once: use one for one
// pass over the certificates. It is not safe for concurrent use.
type Classifier struct {
	ctx         context.Context
	storage     certmagic.Storage
	caKeys      map[string]string // SubjectKeyId of a CA certificate → CA ID
	internalIDs map[string]bool   // issuer keys of Caddy's CAs
	dirs        []string
	listed      bool
}

// maxStoredNames bounds how many names of one certificate are looked up
// in storage: certmagic stores a managed certificate under its one
// subject name, which is among the first.
const maxStoredNames = 4

// NewClassifier returns a Classifier for the config of ctx, reading
// storage (none when nil).
func NewClassifier(ctx caddy.Context, storage certmagic.Storage) *Classifier {
	c := &Classifier{
		ctx:         ctx,
		storage:     storage,
		caKeys:      make(map[string]string),
		internalIDs: make(map[string]bool),
	}
	if ctx.Context == nil {
		c.ctx = context.Background()
	}
	if app, err := ctx.AppIfConfigured("pki"); err == nil {
		if pki, ok := app.(*caddypki.PKI); ok {
			for id, ca := range pki.CAs {
				c.AddCA(id, append([]*x509.Certificate{ca.RootCertificate()}, ca.IntermediateCertificateChain()...)...)
			}
		}
	}
	return c
}

// AddCA records the certificates of one of Caddy's CAs, by its ID (the
// issuer key its certificates are stored under).
func (c *Classifier) AddCA(id string, certs ...*x509.Certificate) {
	c.internalIDs[id] = true
	for _, cert := range certs {
		if cert != nil && len(cert.SubjectKeyId) > 0 {
			c.caKeys[string(cert.SubjectKeyId)] = id
		}
	}
}

// Origin classifies a certificate with a parsed leaf.
func (c *Classifier) Origin(cert *certmagic.Certificate) Origin {
	o := Origin{Kind: KindManual}
	leaf := cert.Leaf
	if aki := leaf.AuthorityKeyId; len(aki) > 0 {
		if id, ok := c.caKeys[string(aki)]; ok {
			o.Kind, o.IssuerKey = KindInternal, id
		}
	}
	if len(c.caKeys) == 0 && strings.HasPrefix(leaf.Issuer.CommonName, localCAName) {
		o.Kind = KindInternal
	}
	if c.storage == nil {
		return o
	}
	for i, name := range cert.Names {
		if i == maxStoredNames {
			break
		}
		for _, dir := range c.issuerDirs() {
			match := c.stored(dir, name, leaf)
			if match == noMatch {
				continue
			}
			o.IssuerKey = dir
			if o.Kind != KindInternal {
				o.Kind = KindACME
				if c.internalIDs[dir] {
					o.Kind = KindInternal
				}
			}
			if match == sameCert {
				// The metadata of a renewal is the renewal's.
				c.readARI(dir, name, &o)
			}
			return o
		}
	}
	return o
}

// issuerDirs lists the issuer keys certmagic stores certificates under.
func (c *Classifier) issuerDirs() []string {
	if !c.listed {
		c.listed = true
		keys, err := c.storage.List(c.ctx, "certificates", false)
		if err == nil {
			for _, k := range keys {
				c.dirs = append(c.dirs, path.Base(k))
			}
		}
	}
	return c.dirs
}

// storageMatch is how the certificate storage holds for a name relates to
// a cached leaf.
type storageMatch uint8

const (
	noMatch  storageMatch = iota
	sameCert              // storage holds the leaf itself
	renewal               // storage holds a renewal of the leaf
)

// stored compares the certificate storage holds for name under issuer key
// dir with leaf.
func (c *Classifier) stored(dir, name string, leaf *x509.Certificate) storageMatch {
	data, err := c.storage.Load(c.ctx, certmagic.StorageKeys.SiteCert(dir, name))
	if err != nil {
		return noMatch
	}
	block, _ := pem.Decode(data)
	switch {
	case block == nil:
		return noMatch
	case bytes.Equal(block.Bytes, leaf.Raw):
		return sameCert
	}
	s, err := x509.ParseCertificate(block.Bytes)
	if err == nil && renews(s, leaf) {
		return renewal
	}
	return noMatch
}

// renews reports whether next is a renewal of prev: the same issuer, the
// same names, issued later. A certificate loaded by the config for a name
// that certmagic also manages is another issuer's, or older, or for other
// names.
func renews(next, prev *x509.Certificate) bool {
	return bytes.Equal(next.RawIssuer, prev.RawIssuer) &&
		next.NotBefore.After(prev.NotBefore) &&
		sameNames(next, prev)
}

// sameNames reports whether two certificates name the same DNS names and
// IP addresses, in any order.
func sameNames(a, b *x509.Certificate) bool {
	names := func(c *x509.Certificate) []string {
		out := slices.Clone(c.DNSNames)
		for _, ip := range c.IPAddresses {
			out = append(out, ip.String())
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(names(a), names(b))
}

// readARI fills in the renewal information certmagic stored with the
// certificate, if the CA gave any.
func (c *Classifier) readARI(dir, name string, o *Origin) {
	data, err := c.storage.Load(c.ctx, certmagic.StorageKeys.SiteMeta(dir, name))
	if err != nil {
		return
	}
	var meta struct {
		IssuerData acme.Certificate `json:"issuer_data"`
	}
	if json.Unmarshal(data, &meta) != nil || meta.IssuerData.RenewalInfo == nil {
		return
	}
	ari := meta.IssuerData.RenewalInfo
	at := ari.SelectedTime
	if at.IsZero() && ari.HasWindow() {
		// certmagic picks a time in the window; until it has, expect
		// the renewal at the start of the window.
		at = ari.SuggestedWindow.Start
	}
	o.ARI = NewARI(at, ari.SuggestedWindow.Start, ari.SuggestedWindow.End)
}
