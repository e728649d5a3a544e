package testpki

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

// IssueWith issues l like Issue, then lets edit change the certificate
// template before the CA signs it: to name CRL Distribution Points
// (WithCRL), embed an SCT list (WithSCTList) or set any other field.
// Leaf's defaults apply before edit runs.
func (ca *CA) IssueWith(tb testing.TB, l Leaf, edit func(tmpl *x509.Certificate)) tls.Certificate {
	tb.Helper()
	c := issue(tb, l, ca)
	// A parsed certificate is a valid template: CreateCertificate reads
	// its fields and ignores the raw encodings.
	tmpl := c.Leaf
	edit(tmpl)
	leaf := create(tb, tmpl, ca.Cert, tmpl.PublicKey, ca.Key)
	c.Certificate[0], c.Leaf = leaf.Raw, leaf
	return c
}
