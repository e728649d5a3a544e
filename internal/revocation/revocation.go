// Package revocation tells whether a certificate Caddy serves has been
// revoked, from the CRL its CA publishes (RFC 5280) or from the OCSP
// response stapled to it (RFC 6960).
//
// Let's Encrypt ended OCSP in 2025: its certificates name no responder and
// certmagic has no staple to check, so a CRL is the only signal left. A
// Checker fetches the CRL each certificate names in its CRL Distribution
// Points, verifies it against the issuer in the served chain and answers
// good, revoked or unknown. Anything that goes wrong on the way — the CA's
// server is down or hostile, the CRL is stale, forged or malformed — is an
// unknown answer with the reason, never a revocation: only a fresh CRL
// signed by the certificate's issuer can revoke it.
package revocation

import (
	"fmt"
	"time"
)

// Status is the revocation status of a certificate.
type Status string

// Statuses.
const (
	// StatusGood: a fresh CRL (or staple) signed by the issuer does not
	// list the certificate.
	StatusGood Status = "good"
	// StatusRevoked: a fresh CRL (or staple) signed by the issuer lists
	// the certificate as revoked.
	StatusRevoked Status = "revoked"
	// StatusUnknown: no trustworthy answer; Result.Err says why. Report it
	// as a warning.
	StatusUnknown Status = "unknown"
	// StatusAbsent: nothing to check — the certificate names no CRL, or no
	// OCSP response is stapled.
	StatusAbsent Status = "absent"
)

// Reason is a revocation reason code, CRLReason of RFC 5280 §5.3.1 (OCSP
// uses the same codes).
type Reason int

// Reason codes of RFC 5280 §5.3.1; 7 is unused.
const (
	ReasonUnspecified          Reason = 0
	ReasonKeyCompromise        Reason = 1
	ReasonCACompromise         Reason = 2
	ReasonAffiliationChanged   Reason = 3
	ReasonSuperseded           Reason = 4
	ReasonCessationOfOperation Reason = 5
	ReasonCertificateHold      Reason = 6
	ReasonRemoveFromCRL        Reason = 8
	ReasonPrivilegeWithdrawn   Reason = 9
	ReasonAACompromise         Reason = 10
)

// String returns the reason's name as RFC 5280 spells it, e.g.
// "keyCompromise", or "reason(N)" for a code it does not define.
func (r Reason) String() string {
	switch r {
	case ReasonUnspecified:
		return "unspecified"
	case ReasonKeyCompromise:
		return "keyCompromise"
	case ReasonCACompromise:
		return "cACompromise"
	case ReasonAffiliationChanged:
		return "affiliationChanged"
	case ReasonSuperseded:
		return "superseded"
	case ReasonCessationOfOperation:
		return "cessationOfOperation"
	case ReasonCertificateHold:
		return "certificateHold"
	case ReasonRemoveFromCRL:
		return "removeFromCRL"
	case ReasonPrivilegeWithdrawn:
		return "privilegeWithdrawn"
	case ReasonAACompromise:
		return "aACompromise"
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// MarshalText renders the reason as String does.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// SourceOCSPStaple is Result.Source for an answer from a stapled OCSP
// response.
const SourceOCSPStaple = "ocsp_staple"

// Result is the revocation status of one certificate.
type Result struct {
	Status Status
	// Source is the URL of the CRL that gave the answer (for an unknown
	// status, the last one tried), or SourceOCSPStaple.
	Source string
	// RevokedAt and Reason are set when Status is StatusRevoked.
	RevokedAt time.Time
	Reason    Reason
	// ThisUpdate and NextUpdate are those of the CRL or OCSP response
	// that gave the answer: NextUpdate is when a newer one is due.
	ThisUpdate, NextUpdate time.Time
	// Err says why Status is StatusUnknown; nil otherwise.
	Err error
	// Warning is a problem that did not prevent an answer, e.g. a refresh
	// of the CRL failed while the cached CRL is still current.
	Warning error
}

// String renders the result on one line, e.g.
// "revoked at 2026-03-01T12:00:00Z (keyCompromise) per http://...".
func (r Result) String() string {
	var s string
	switch r.Status {
	case StatusRevoked:
		s = fmt.Sprintf("revoked at %s (%s)", r.RevokedAt.UTC().Format(time.RFC3339), r.Reason)
	case StatusUnknown:
		s = fmt.Sprintf("unknown: %v", r.Err)
	default:
		s = string(r.Status)
	}
	if r.Source != "" && r.Status != StatusUnknown {
		s += " per " + r.Source
	}
	if r.Warning != nil {
		s += fmt.Sprintf(" (warning: %v)", r.Warning)
	}
	return s
}

// unknown returns an unknown result from source for err.
func unknown(source string, err error) Result {
	return Result{Status: StatusUnknown, Source: source, Err: err}
}
