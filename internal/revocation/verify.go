package revocation

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cryptobyte_asn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// clockSkew is how far in the future a CRL's thisUpdate may be before the
// CRL is refused: the CA's clock and ours may differ a little.
const clockSkew = 5 * time.Minute

// CRL and CRL entry extensions this package knows (RFC 5280 §5.2, §5.3).
var (
	oidAuthorityKeyID      = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidIssuerAltName       = asn1.ObjectIdentifier{2, 5, 29, 18}
	oidCRLNumber           = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidDeltaCRLIndicator   = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDistribution = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidFreshestCRL         = asn1.ObjectIdentifier{2, 5, 29, 46}
	oidAuthorityInfoAccess = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 1}
	oidReasonCode          = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidInvalidityDate      = asn1.ObjectIdentifier{2, 5, 29, 24}
)

// crl is a CRL as fetched from one URL: parsed once, then shared by every
// certificate that names the URL.
type crl struct {
	rl  *x509.RevocationList
	idp issuingDistributionPoint
	// unusable says why the CRL must not be used to decide any status:
	// RFC 5280 §5.2 and §5.3 forbid using a CRL with a critical
	// extension the reader cannot process.
	unusable error
	// revoked indexes rl.RevokedCertificateEntries by serial number.
	revoked map[string]int

	mu       sync.Mutex
	verified [][]byte // raw issuers whose signature check passed
}

// issuingDistributionPoint is the CRL extension of RFC 5280 §5.2.5, which
// says which certificates a CRL covers.
type issuingDistributionPoint struct {
	present      bool
	uris         []string // the fullName URIs of distributionPoint
	relativeName bool     // nameRelativeToCRLIssuer instead of fullName
	onlyUser     bool
	onlyCA       bool
	onlySome     bool // onlySomeReasons: a CRL partitioned by reason
	indirect     bool
	onlyAttr     bool
}

// parseCRL parses a CRL body: DER as RFC 5280 §4.2.1.13 asks, or PEM
// ("X509 CRL"), which some CAs serve anyway.
func parseCRL(body []byte) (*crl, error) {
	der := body
	if block, _ := pem.Decode(body); block != nil {
		if block.Type != "X509 CRL" {
			return nil, fmt.Errorf("expected a DER CRL or a PEM \"X509 CRL\" block, found a PEM %q block", block.Type)
		}
		der = block.Bytes
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("expected a DER CRL (RFC 5280 §5.1), found %s: %w", describeBody(body), err)
	}
	c := &crl{rl: rl, revoked: make(map[string]int, len(rl.RevokedCertificateEntries))}
	for _, ext := range rl.Extensions {
		switch {
		case ext.Id.Equal(oidIssuingDistribution):
			idp, err := parseIDP(ext.Value)
			if err != nil {
				c.unusable = fmt.Errorf("malformed issuing distribution point extension: %w", err)
			}
			c.idp = idp
		case ext.Id.Equal(oidDeltaCRLIndicator):
			c.unusable = errors.New("it is a delta CRL (RFC 5280 §5.2.4): only complete CRLs are supported")
		case ext.Critical && !slices.ContainsFunc([]asn1.ObjectIdentifier{oidAuthorityKeyID, oidIssuerAltName, oidCRLNumber, oidFreshestCRL, oidAuthorityInfoAccess}, ext.Id.Equal):
			c.unusable = fmt.Errorf("it has a critical extension %s this reader cannot process (RFC 5280 §5.2: such a CRL must not be used)", ext.Id)
		}
	}
	for i, e := range rl.RevokedCertificateEntries {
		for _, ext := range e.Extensions {
			if ext.Critical && !ext.Id.Equal(oidReasonCode) && !ext.Id.Equal(oidInvalidityDate) {
				// certificateIssuer (2.5.29.29), the mark of an indirect
				// CRL, is critical and lands here too.
				c.unusable = fmt.Errorf("entry for serial %x has a critical extension %s this reader cannot process (RFC 5280 §5.3: such a CRL must not be used)", e.SerialNumber, ext.Id)
			}
		}
		if e.SerialNumber != nil {
			c.revoked[e.SerialNumber.Text(16)] = i
		}
	}
	return c, nil
}

// describeBody names what a body that is not a CRL looks like, for errors.
func describeBody(body []byte) string {
	if len(body) == 0 {
		return "an empty body"
	}
	head := body[:min(len(body), 16)]
	if bytes.HasPrefix(bytes.TrimSpace(bytes.ToLower(head)), []byte("<")) {
		return fmt.Sprintf("%d bytes starting %q (HTML or XML?)", len(body), head)
	}
	return fmt.Sprintf("%d bytes starting %x", len(body), head)
}

// parseIDP parses an IssuingDistributionPoint (RFC 5280 §5.2.5):
//
//	IssuingDistributionPoint ::= SEQUENCE {
//	     distributionPoint          [0] DistributionPointName OPTIONAL,
//	     onlyContainsUserCerts      [1] BOOLEAN DEFAULT FALSE,
//	     onlyContainsCACerts        [2] BOOLEAN DEFAULT FALSE,
//	     onlySomeReasons            [3] ReasonFlags OPTIONAL,
//	     indirectCRL                [4] BOOLEAN DEFAULT FALSE,
//	     onlyContainsAttributeCerts [5] BOOLEAN DEFAULT FALSE }
//	DistributionPointName ::= CHOICE {
//	     fullName                [0] GeneralNames,
//	     nameRelativeToCRLIssuer [1] RelativeDistinguishedName }
func parseIDP(value []byte) (issuingDistributionPoint, error) {
	idp := issuingDistributionPoint{present: true}
	in := cryptobyte.String(value)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cryptobyte_asn1.SEQUENCE) || !in.Empty() {
		return idp, errors.New("expected one DER SEQUENCE")
	}
	var dpn cryptobyte.String
	var has bool
	if !seq.ReadOptionalASN1(&dpn, &has, cryptobyte_asn1.Tag(0).Constructed().ContextSpecific()) {
		return idp, errors.New("malformed distributionPoint")
	}
	if has {
		var full cryptobyte.String
		var hasFull bool
		if !dpn.ReadOptionalASN1(&full, &hasFull, cryptobyte_asn1.Tag(0).Constructed().ContextSpecific()) {
			return idp, errors.New("malformed fullName")
		}
		if hasFull {
			for !full.Empty() {
				var name cryptobyte.String
				var tag cryptobyte_asn1.Tag
				if !full.ReadAnyASN1(&name, &tag) {
					return idp, errors.New("malformed GeneralName in fullName")
				}
				if tag == cryptobyte_asn1.Tag(6).ContextSpecific() { // uniformResourceIdentifier
					idp.uris = append(idp.uris, string(name))
				}
			}
		} else {
			var rdn cryptobyte.String
			if !dpn.ReadASN1(&rdn, cryptobyte_asn1.Tag(1).Constructed().ContextSpecific()) {
				return idp, errors.New("distributionPoint is neither fullName [0] nor nameRelativeToCRLIssuer [1]")
			}
			idp.relativeName = true
		}
		if !dpn.Empty() {
			return idp, errors.New("trailing data in distributionPoint")
		}
	}
	for _, f := range []struct {
		tag int
		out *bool
	}{{1, &idp.onlyUser}, {2, &idp.onlyCA}, {3, &idp.onlySome}, {4, &idp.indirect}, {5, &idp.onlyAttr}} {
		var v cryptobyte.String
		var present bool
		if !seq.ReadOptionalASN1(&v, &present, cryptobyte_asn1.Tag(f.tag).ContextSpecific()) {
			return idp, fmt.Errorf("malformed field [%d]", f.tag)
		}
		switch {
		case !present:
		case f.tag == 3: // onlySomeReasons is a BIT STRING: its presence is what matters
			*f.out = true
		case len(v) != 1:
			return idp, fmt.Errorf("field [%d]: expected a 1-byte BOOLEAN, found %d bytes", f.tag, len(v))
		default:
			*f.out = v[0] != 0
		}
	}
	if !seq.Empty() {
		return idp, errors.New("trailing or out-of-order fields")
	}
	return idp, nil
}

// checkSignature verifies the CRL's signature with issuer's key,
// remembering issuers that passed so a CRL shared by many certificates is
// verified once.
func (c *crl) checkSignature(issuer *x509.Certificate) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, raw := range c.verified {
		if bytes.Equal(raw, issuer.Raw) {
			return nil
		}
	}
	err := c.rl.CheckSignatureFrom(issuer)
	var cv x509.ConstraintViolationError
	switch {
	case errors.As(err, &cv):
		return fmt.Errorf("issuer %q may not sign CRLs: it is not a CA or its key usage lacks cRLSign (RFC 5280 §4.2.1.3)", issuer.Subject)
	case err != nil:
		return fmt.Errorf("CRL signature does not verify with the key of issuer %q: %w", issuer.Subject, err)
	}
	c.verified = append(c.verified, issuer.Raw)
	return nil
}

// evaluate answers leaf's status from c, the CRL fetched from url, after
// checking that c is signed by issuer, covers leaf and is fresh at now.
// Every failure is an unknown status; only a CRL that passes every check
// can revoke.
func (c *crl) evaluate(url string, leaf, issuer *x509.Certificate, now time.Time) Result {
	rl := c.rl
	res := Result{Source: url, ThisUpdate: rl.ThisUpdate, NextUpdate: rl.NextUpdate}
	fail := func(format string, args ...any) Result {
		res.Status, res.Err = StatusUnknown, fmt.Errorf(format, args...)
		return res
	}
	if c.unusable != nil {
		return fail("CRL %s cannot be used: %w", url, c.unusable)
	}
	if !bytes.Equal(rl.RawIssuer, leaf.RawIssuer) {
		return fail("CRL %s is issued by %q, not by the certificate's issuer %q", url, rl.Issuer, leaf.Issuer)
	}
	if len(rl.AuthorityKeyId) > 0 && len(issuer.SubjectKeyId) > 0 && !bytes.Equal(rl.AuthorityKeyId, issuer.SubjectKeyId) {
		return fail("CRL %s names authority key ID %x, the issuer's subject key ID is %x", url, rl.AuthorityKeyId, issuer.SubjectKeyId)
	}
	if err := c.checkSignature(issuer); err != nil {
		return fail("CRL %s: %w", url, err)
	}
	if idp := c.idp; idp.present {
		switch {
		case idp.relativeName:
			return fail("CRL %s names its distribution point relative to the issuer, which is not supported", url)
		case idp.onlySome:
			return fail("CRL %s covers only some revocation reasons (onlySomeReasons), which is not supported", url)
		case idp.indirect:
			return fail("CRL %s is an indirect CRL, which is not supported", url)
		case idp.onlyAttr:
			return fail("CRL %s covers only attribute certificates", url)
		case idp.onlyCA && !leaf.IsCA:
			return fail("CRL %s covers only CA certificates", url)
		case idp.onlyUser && leaf.IsCA:
			return fail("CRL %s covers only end-entity certificates", url)
		case len(idp.uris) > 0 && !slices.Contains(idp.uris, url):
			// A CRL fetched from one URL that says it is another shard
			// would hide the revocations the right shard lists
			// (RFC 5280 §6.3.3 b.2.i).
			return fail("CRL fetched from %s says it is the CRL of %v", url, idp.uris)
		}
	}
	if rl.NextUpdate.IsZero() {
		return fail("CRL %s has no nextUpdate, so its freshness cannot be judged (RFC 5280 §5.1.2.5 requires one)", url)
	}
	if now.Add(clockSkew).Before(rl.ThisUpdate) {
		return fail("CRL %s has thisUpdate %s, in the future (now %s)", url, rl.ThisUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	i, listed := c.revoked[leaf.SerialNumber.Text(16)]
	if !now.Before(rl.NextUpdate) {
		msg := fmt.Sprintf("CRL %s is stale: its nextUpdate %s passed %s ago", url, rl.NextUpdate.UTC().Format(time.RFC3339), now.Sub(rl.NextUpdate).Round(time.Second))
		if listed {
			e := rl.RevokedCertificateEntries[i]
			msg += fmt.Sprintf("; it lists the certificate as revoked at %s (%s)", e.RevocationTime.UTC().Format(time.RFC3339), Reason(e.ReasonCode))
		}
		return fail("%s", msg)
	}
	if !listed {
		res.Status = StatusGood
		return res
	}
	e := rl.RevokedCertificateEntries[i]
	if Reason(e.ReasonCode) == ReasonRemoveFromCRL {
		return fail("CRL %s lists serial %x with reason removeFromCRL, which only delta CRLs may use (RFC 5280 §5.3.1)", url, leaf.SerialNumber)
	}
	res.Status, res.RevokedAt, res.Reason = StatusRevoked, e.RevocationTime, Reason(e.ReasonCode)
	return res
}
