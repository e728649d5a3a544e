package revocation

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/ocsp"
)

// CheckStaple answers leaf's revocation status from staple, the DER OCSP
// response stapled to it (tls.Certificate.OCSPStaple; certmagic keeps one
// for certificates that name a responder). The response must be signed by
// issuer, or by a responder certificate issuer signed for OCSP signing
// (RFC 6960 §4.2.2.2), be about leaf's serial and be fresh at now. An
// empty staple is StatusAbsent; any other problem is StatusUnknown.
func CheckStaple(staple []byte, leaf, issuer *x509.Certificate, now time.Time) Result {
	if len(staple) == 0 {
		return Result{Status: StatusAbsent, Source: SourceOCSPStaple}
	}
	if issuer == nil {
		return unknown(SourceOCSPStaple, fmt.Errorf("the issuer %q of the certificate is not known: the OCSP response's signature cannot be verified", leaf.Issuer))
	}
	resp, err := ocsp.ParseResponseForCert(staple, leaf, issuer)
	if err != nil {
		return unknown(SourceOCSPStaple, fmt.Errorf("OCSP staple: %w", err))
	}
	res := Result{Source: SourceOCSPStaple, ThisUpdate: resp.ThisUpdate, NextUpdate: resp.NextUpdate}
	fail := func(format string, args ...any) Result {
		res.Status, res.Err = StatusUnknown, fmt.Errorf(format, args...)
		return res
	}
	// x/crypto/ocsp checks that the issuer signed a delegated responder's
	// certificate, not that the certificate is for OCSP signing.
	if rc := resp.Certificate; rc != nil && !slices.Contains(rc.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		return fail("OCSP staple is signed by %q, whose certificate lacks the OCSP signing extended key usage (RFC 6960 §4.2.2.2)", rc.Subject)
	}
	if now.Add(clockSkew).Before(resp.ThisUpdate) {
		return fail("OCSP staple has thisUpdate %s, in the future (now %s)", resp.ThisUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !resp.NextUpdate.IsZero() && !now.Before(resp.NextUpdate) {
		msg := fmt.Sprintf("OCSP staple is stale: its nextUpdate %s passed %s ago", resp.NextUpdate.UTC().Format(time.RFC3339), now.Sub(resp.NextUpdate).Round(time.Second))
		if resp.Status == ocsp.Revoked {
			msg += fmt.Sprintf("; it says the certificate was revoked at %s (%s)", resp.RevokedAt.UTC().Format(time.RFC3339), Reason(resp.RevocationReason))
		}
		return fail("%s", msg)
	}
	switch resp.Status {
	case ocsp.Good:
		res.Status = StatusGood
	case ocsp.Revoked:
		res.Status, res.RevokedAt, res.Reason = StatusRevoked, resp.RevokedAt, Reason(resp.RevocationReason)
	default:
		res.Status, res.Err = StatusUnknown, errors.New("OCSP staple: the responder does not know the certificate")
	}
	return res
}
