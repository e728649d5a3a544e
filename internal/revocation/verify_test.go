package revocation

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hardtls/caddy-hardtls/internal/testpki"
)

const crlURL = "http://crl.test/1.crl"

func TestEvaluate(t *testing.T) {
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	leaf, issuer := leafOf(t, ca, crlURL)
	now := time.Now()
	revoked := []x509.RevocationListEntry{revokedEntry(leaf.SerialNumber, ReasonKeyCompromise)}
	otherSerial := []x509.RevocationListEntry{revokedEntry(testpki.Serial(t), ReasonSuperseded)}
	// A CA with the same name but another key: its CRLs carry the right
	// issuer name and must still fail.
	impostor := testpki.NewCRLCA(t, "CRL test CA", nil)
	// The same CA, key and all, with a key usage that lacks cRLSign.
	noCRLSign := testpki.NewCA(t, "CRL test CA", ca.Key)
	tamper := func(der []byte) []byte {
		der = append([]byte(nil), der...)
		der[len(der)-1] ^= 0xFF // in the signature
		return der
	}

	tests := []struct {
		name    string
		der     []byte
		issuer  *x509.Certificate // default: issuer
		at      time.Time         // default: now
		want    Status
		wantErr string
		// openssl is why openssl verify -crl_check decides otherwise,
		// when it does (the cases where it must agree have none).
		openssl string
	}{
		{name: "empty CRL", der: ca.SignCRL(t, testpki.CRL{}), want: StatusGood},
		{name: "other serial revoked", der: ca.SignCRL(t, testpki.CRL{Revoked: otherSerial}), want: StatusGood},
		{name: "revoked", der: ca.SignCRL(t, testpki.CRL{Revoked: revoked}), want: StatusRevoked},
		{name: "matching IDP", der: ca.SignCRL(t, testpki.CRL{IDP: []string{"http://mirror.test/1.crl", crlURL}}), want: StatusGood},
		{name: "IDP of another shard", der: ca.SignCRL(t, testpki.CRL{Revoked: revoked, IDP: []string{"http://crl.test/2.crl"}}),
			want: StatusUnknown, wantErr: "CRL fetched from http://crl.test/1.crl says it is the CRL of [http://crl.test/2.crl]"},
		{name: "signature tampered", der: tamper(ca.SignCRL(t, testpki.CRL{Revoked: revoked})),
			want: StatusUnknown, wantErr: `CRL signature does not verify with the key of issuer "CN=CRL test CA"`},
		{name: "signed by an impostor", der: impostor.SignCRL(t, testpki.CRL{Revoked: revoked}),
			want: StatusUnknown, wantErr: "names authority key ID"},
		{name: "issuer may not sign CRLs", der: ca.SignCRL(t, testpki.CRL{Revoked: revoked}), issuer: noCRLSign.Cert,
			want: StatusUnknown, wantErr: "may not sign CRLs: it is not a CA or its key usage lacks cRLSign"},
		{name: "another issuer's CRL", der: testpki.NewCRLCA(t, "Other CA", nil).SignCRL(t, testpki.CRL{Revoked: revoked}),
			want: StatusUnknown, wantErr: `is issued by "CN=Other CA", not by the certificate's issuer "CN=CRL test CA"`},
		{name: "stale", der: ca.SignCRL(t, testpki.CRL{ThisUpdate: now.Add(-48 * time.Hour), NextUpdate: now.Add(-time.Hour)}),
			want: StatusUnknown, wantErr: "is stale: its nextUpdate"},
		{name: "stale and listing the certificate", der: ca.SignCRL(t, testpki.CRL{Revoked: revoked, ThisUpdate: now.Add(-48 * time.Hour), NextUpdate: now.Add(-time.Hour)}),
			want: StatusUnknown, wantErr: "it lists the certificate as revoked at"},
		{name: "checked after nextUpdate", der: ca.SignCRL(t, testpki.CRL{Revoked: revoked}), at: now.Add(48 * time.Hour),
			want: StatusUnknown, wantErr: "is stale"},
		{name: "thisUpdate in the future", der: ca.SignCRL(t, testpki.CRL{ThisUpdate: now.Add(time.Hour)}),
			want: StatusUnknown, wantErr: "in the future"},
		{name: "no nextUpdate", der: crlWithoutNextUpdate(t, ca),
			want: StatusUnknown, wantErr: "has no nextUpdate",
			openssl: "good: openssl accepts a CRL without nextUpdate; RFC 5280 5.1.2.5 requires it, and without it a CRL's freshness cannot be judged"},
		{name: "delta CRL", der: ca.SignCRL(t, testpki.CRL{Revoked: revoked, ExtraExtensions: []pkix.Extension{{Id: oidDeltaCRLIndicator, Critical: true, Value: []byte{2, 1, 1}}}}),
			want: StatusUnknown, wantErr: "it is a delta CRL",
			openssl: "revoked: without -use_deltas openssl reads a delta CRL as complete; a delta only lists changes to its base (RFC 5280 5.2.4), so we judge neither way from it"},
		{name: "unknown critical extension", der: ca.SignCRL(t, testpki.CRL{ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}}}),
			want: StatusUnknown, wantErr: "critical extension 1.2.3.4 this reader cannot process"},
		{name: "unknown non-critical extension", der: ca.SignCRL(t, testpki.CRL{ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{5, 0}}}}),
			want: StatusGood},
		{name: "critical entry extension", der: ca.SignCRL(t, testpki.CRL{Revoked: []x509.RevocationListEntry{{
			SerialNumber: leaf.SerialNumber, RevocationTime: now.Add(-time.Hour),
			ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 29}, Critical: true, Value: []byte{0x30, 0}}},
		}}}), want: StatusUnknown, wantErr: "has a critical extension 2.5.29.29",
			openssl: "good: openssl takes the entry's (empty) certificateIssuer to mean another issuer's certificate; we do not guess at an entry we cannot read"},
		{name: "removeFromCRL in a complete CRL", der: ca.SignCRL(t, testpki.CRL{Revoked: []x509.RevocationListEntry{revokedEntry(leaf.SerialNumber, ReasonRemoveFromCRL)}}),
			want: StatusUnknown, wantErr: "reason removeFromCRL, which only delta CRLs may use",
			openssl: "good: openssl skips removeFromCRL entries; in a complete CRL the reason is not allowed (RFC 5280 5.3.1), so the CRL is malformed"},
		{name: "IDP only CA certificates", der: ca.SignCRL(t, testpki.CRL{ExtraExtensions: []pkix.Extension{idpExt(t, []byte{0x82, 1, 0xFF})}}),
			want: StatusUnknown, wantErr: "covers only CA certificates"},
		{name: "IDP only some reasons", der: ca.SignCRL(t, testpki.CRL{ExtraExtensions: []pkix.Extension{idpExt(t, []byte{0x83, 2, 7, 0x80})}}),
			want: StatusUnknown, wantErr: "covers only some revocation reasons"},
		{name: "IDP indirect", der: ca.SignCRL(t, testpki.CRL{ExtraExtensions: []pkix.Extension{idpExt(t, []byte{0x84, 1, 0xFF})}}),
			want: StatusUnknown, wantErr: "is an indirect CRL"},
		{name: "IDP relative name", der: ca.SignCRL(t, testpki.CRL{ExtraExtensions: []pkix.Extension{idpExt(t, []byte{0xA0, 2, 0xA1, 0})}}),
			want: StatusUnknown, wantErr: "relative to the issuer"},
		{name: "IDP malformed", der: ca.SignCRL(t, testpki.CRL{ExtraExtensions: []pkix.Extension{idpExt(t, []byte{0x81, 2, 0xFF, 0xFF})}}),
			want: StatusUnknown, wantErr: "malformed issuing distribution point extension: field [1]: expected a 1-byte BOOLEAN, found 2 bytes",
			openssl: "good: openssl's decoder accepts a 2-byte BOOLEAN in the critical IDP; DER allows one byte, and a critical extension we cannot read makes the CRL unusable (RFC 5280 5.2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseCRL(tt.der)
			if err != nil {
				t.Fatal(err)
			}
			iss, at := issuer, now
			if tt.issuer != nil {
				iss = tt.issuer
			}
			if !tt.at.IsZero() {
				at = tt.at
			}
			res := c.evaluate(crlURL, leaf, iss, at)
			if res.Status != tt.want {
				t.Fatalf("status = %s, want %s (%v)", res.Status, tt.want, res.Err)
			}
			if got := opensslVerdict(t, leaf, iss, tt.der, at); got != tt.want && tt.openssl == "" {
				t.Errorf("openssl verify -crl_check says %s, we say %s", got, tt.want)
			} else if got == tt.want && tt.openssl != "" {
				t.Errorf("openssl verify -crl_check now agrees (%s): drop the departure %q", got, tt.openssl)
			}
			if tt.wantErr != "" {
				wantUnknown(t, res, tt.wantErr)
			}
			if res.Status == StatusRevoked && (res.Reason != ReasonKeyCompromise || !res.RevokedAt.Equal(revoked[0].RevocationTime)) {
				t.Errorf("revoked at %v (%s), want %v (keyCompromise)", res.RevokedAt, res.Reason, revoked[0].RevocationTime)
			}
			if res.Source != crlURL || res.NextUpdate.IsZero() && tt.name != "no nextUpdate" {
				t.Errorf("source %q next update %v", res.Source, res.NextUpdate)
			}
		})
	}
}

// idpExt wraps fields, the DER contents of an IssuingDistributionPoint
// SEQUENCE, in a critical extension.
func idpExt(t *testing.T, fields []byte) pkix.Extension {
	t.Helper()
	return pkix.Extension{Id: oidIssuingDistribution, Critical: true, Value: append([]byte{0x30, byte(len(fields))}, fields...)}
}

func TestParseCRLBodies(t *testing.T) {
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	der := ca.SignCRL(t, testpki.CRL{})
	tests := []struct {
		name, body, wantErr string
	}{
		{"DER", string(der), ""},
		{"PEM", string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})), ""},
		{"PEM certificate", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})), `expected a DER CRL or a PEM "X509 CRL" block, found a PEM "CERTIFICATE" block`},
		{"HTML", "<!DOCTYPE html><html><body>Moved</body></html>", `expected a DER CRL (RFC 5280 §5.1), found 46 bytes starting "<!DOCTYPE html><" (HTML or XML?)`},
		{"empty", "", "found an empty body"},
		{"garbage", "\x30\x03\x02\x01\x05", "found 5 bytes starting 3003020105"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCRL([]byte(tt.body))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v\nwant it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// opensslErrorLine is a line of openssl verify naming an error by code.
var opensslErrorLine = regexp.MustCompile(`(?m)^error (\d+) at `)

// opensslVerdict is what openssl verify -crl_check, an implementation we
// did not write, says of leaf with the CRL der at the time at: good (it
// verifies), revoked (error 23, "certificate revoked", and no other) or
// unknown (any other error: openssl goes on after the first, so a
// revoked serial on an expired CRL gives errors 12 and 23, and a CRL that
// cannot be trusted is no revocation).
func opensslVerdict(t *testing.T, leaf, issuer *x509.Certificate, der []byte, at time.Time) Status {
	t.Helper()
	out, err := opensslWith(t, map[string][]byte{
		"ca.pem":   certPEM(issuer),
		"leaf.pem": certPEM(leaf),
		"crl.pem":  pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}),
	}, "verify", "-crl_check", "-attime", strconv.FormatInt(at.Unix(), 10), "-CAfile", "ca.pem", "-CRLfile", "crl.pem", "leaf.pem")
	t.Logf("openssl verify: %s", strings.TrimSpace(string(out)))
	codes := map[string]bool{}
	for _, m := range opensslErrorLine.FindAllStringSubmatch(string(out), -1) {
		codes[m[1]] = true
	}
	switch {
	case err == nil && len(codes) == 0:
		return StatusGood
	case len(codes) == 1 && codes["23"]:
		return StatusRevoked
	}
	return StatusUnknown
}

// TestOpenSSLReadsTestCRLs checks the CRLs testpki signs, Issuing
// Distribution Point included, with openssl: the extension parseIDP reads
// is the one an implementation we did not write reads.
func TestOpenSSLReadsTestCRLs(t *testing.T) {
	ca := testpki.NewCRLCA(t, "CRL test CA", nil)
	leaf, _ := leafOf(t, ca, crlURL)
	der := ca.SignCRL(t, testpki.CRL{Number: 7, IDP: []string{crlURL}, Revoked: []x509.RevocationListEntry{revokedEntry(leaf.SerialNumber, ReasonKeyCompromise)}})
	out, err := opensslWith(t, map[string][]byte{"crl.der": der, "ca.pem": certPEM(ca.Cert)},
		"crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout", "-text")
	if err != nil {
		t.Fatalf("openssl crl: %v\n%s", err, out)
	}
	text := strings.Join(strings.Fields(string(out)), " ")
	for _, want := range []string{
		"verify OK",
		"X509v3 Issuing Distribution Point: critical Full Name: URI:" + crlURL + " Only User Certificates",
		"X509v3 CRL Number: 7",
		"Serial Number: " + strings.ToUpper(hex.EncodeToString(leaf.SerialNumber.Bytes())),
		"X509v3 CRL Reason Code: Key Compromise",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl output lacks %q:\n%s", want, out)
		}
	}

	c, err := parseCRL(der)
	if err != nil {
		t.Fatal(err)
	}
	if !c.idp.present || len(c.idp.uris) != 1 || c.idp.uris[0] != crlURL || !c.idp.onlyUser || c.idp.onlyCA {
		t.Errorf("parseIDP read %+v", c.idp)
	}
}
