package revocation

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

func TestCheckStaple(t *testing.T) {
	ca := testpki.NewCRLCA(t, "OCSP test CA", nil)
	leaf := ca.Issue(t, testpki.Leaf{Names: []string{"ocsp.example"}}).Leaf
	now := time.Now()
	// A delegated responder, and a certificate of the same CA without the
	// OCSP signing EKU.
	delegate := ca.IssueWith(t, testpki.Leaf{Names: []string{"ocsp responder"}}, func(tmpl *x509.Certificate) {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
	})
	notDelegate := ca.Issue(t, testpki.Leaf{Names: []string{"not a responder"}})
	other := testpki.NewCRLCA(t, "OCSP test CA", nil)

	sign := func(status int, thisUpdate, nextUpdate time.Time, responderCert *x509.Certificate, key crypto.Signer) []byte {
		tmpl := ocsp.Response{Status: status, SerialNumber: leaf.SerialNumber, ThisUpdate: thisUpdate, NextUpdate: nextUpdate, Certificate: responderCert}
		if status == ocsp.Revoked {
			tmpl.RevokedAt, tmpl.RevocationReason = now.Add(-time.Hour).UTC().Truncate(time.Second), ocsp.KeyCompromise
		}
		signerCert := ca.Cert
		if responderCert != nil {
			signerCert = responderCert
		}
		der, err := ocsp.CreateResponse(ca.Cert, signerCert, tmpl, key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	hourAgo, inADay := now.Add(-time.Hour), now.Add(24*time.Hour)

	tests := []struct {
		name    string
		staple  []byte
		issuer  *x509.Certificate
		want    Status
		wantErr string
	}{
		{"none", nil, ca.Cert, StatusAbsent, ""},
		{"good", sign(ocsp.Good, hourAgo, inADay, nil, ca.Key), ca.Cert, StatusGood, ""},
		{"revoked", sign(ocsp.Revoked, hourAgo, inADay, nil, ca.Key), ca.Cert, StatusRevoked, ""},
		{"responder does not know", sign(ocsp.Unknown, hourAgo, inADay, nil, ca.Key), ca.Cert, StatusUnknown, "the responder does not know the certificate"},
		{"delegated responder", sign(ocsp.Good, hourAgo, inADay, delegate.Leaf, delegate.PrivateKey.(crypto.Signer)), ca.Cert, StatusGood, ""},
		{"delegate without OCSP signing", sign(ocsp.Revoked, hourAgo, inADay, notDelegate.Leaf, notDelegate.PrivateKey.(crypto.Signer)), ca.Cert, StatusUnknown, "lacks the OCSP signing extended key usage"},
		{"signed by another key", sign(ocsp.Revoked, hourAgo, inADay, nil, other.Key), ca.Cert, StatusUnknown, "bad OCSP signature"},
		{"stale", sign(ocsp.Revoked, now.Add(-48*time.Hour), hourAgo, nil, ca.Key), ca.Cert, StatusUnknown, "OCSP staple is stale: its nextUpdate"},
		{"thisUpdate in the future", sign(ocsp.Good, now.Add(time.Hour), inADay, nil, ca.Key), ca.Cert, StatusUnknown, "in the future"},
		{"garbage", []byte{0x30, 0x03, 0x0A, 0x01, 0x00}, ca.Cert, StatusUnknown, "OCSP staple:"},
		{"no issuer", sign(ocsp.Good, hourAgo, inADay, nil, ca.Key), nil, StatusUnknown, "the OCSP response's signature cannot be verified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := CheckStaple(tt.staple, leaf, tt.issuer, now)
			if res.Status != tt.want {
				t.Fatalf("status = %s, want %s (%v)", res.Status, tt.want, res.Err)
			}
			if tt.wantErr != "" {
				wantUnknown(t, res, tt.wantErr)
			}
			if res.Source != SourceOCSPStaple {
				t.Errorf("source = %q", res.Source)
			}
			if tt.staple != nil && tt.issuer != nil {
				if got := opensslOCSPVerdict(t, tt.staple, leaf, tt.issuer, now); got != tt.want {
					t.Errorf("openssl ocsp says %s, we say %s", got, tt.want)
				}
			}
			if tt.want == StatusGood && !res.NextUpdate.Equal(inADay.UTC().Truncate(time.Second)) {
				t.Errorf("next update = %v, want %v", res.NextUpdate, inADay)
			}
			if tt.want == StatusRevoked && (res.Reason != ReasonKeyCompromise || res.RevokedAt.IsZero()) {
				t.Errorf("revoked: %s", res)
			}
		})
	}

	// A response about another certificate of the same CA.
	otherLeaf := &x509.Certificate{SerialNumber: big.NewInt(42), Issuer: pkix.Name{CommonName: "OCSP test CA"}}
	wantUnknown(t, CheckStaple(sign(ocsp.Good, hourAgo, inADay, nil, ca.Key), otherLeaf, ca.Cert, now), "no response matching the supplied certificate")
}

// opensslOCSPVerdict is what openssl ocsp, an implementation we did not
// write, says of the response der about leaf, with issuer as the only
// trusted certificate: good or revoked when the response verifies, its
// times are valid at now and it answers for leaf; unknown otherwise.
func opensslOCSPVerdict(t *testing.T, der []byte, leaf, issuer *x509.Certificate, now time.Time) Status {
	t.Helper()
	out, err := opensslWith(t, map[string][]byte{"ca.pem": certPEM(issuer), "leaf.pem": certPEM(leaf), "resp.der": der},
		"ocsp", "-respin", "resp.der", "-issuer", "ca.pem", "-CAfile", "ca.pem", "-cert", "leaf.pem", "-no_nonce",
		"-attime", strconv.FormatInt(now.Unix(), 10))
	text := string(out)
	t.Logf("openssl ocsp: %s", strings.TrimSpace(text))
	if err != nil || !strings.Contains(text, "Response verify OK") || strings.Contains(text, "Status times invalid") {
		return StatusUnknown
	}
	switch {
	case strings.Contains(text, "/leaf.pem: good"):
		return StatusGood
	case strings.Contains(text, "/leaf.pem: revoked"):
		return StatusRevoked
	}
	return StatusUnknown
}
