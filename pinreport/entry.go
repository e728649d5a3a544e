package pinreport

import (
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/hardtls/caddy-hardtls/internal/certs"
)

// IssuerKind says who issued a certificate and keeps it renewed: acme,
// internal or manual.
type IssuerKind = certs.IssuerKind

// Issuer kinds, as they appear in the report and the metrics.
const (
	KindManual   = certs.KindManual
	KindACME     = certs.KindACME
	KindInternal = certs.KindInternal
)

// entry is the inventory's record of one cached certificate: its facts,
// computed once when the certificate is first seen, and the inventory's
// bookkeeping. A renewal is a new certificate, hence a new entry.
type entry struct {
	certs.Facts
	slot    string    // kind and sorted names; stays the same across renewals
	renewAt time.Time // expected renewal point

	// Scan-only fields, guarded by inventory.mu (judges run under it).
	gen        uint64   // the last scan that saw the entry
	alerted    level    // the highest expiry level alerted
	mismatched []string // patterns whose pin mismatch was alerted
}

// newEntry computes the entry of a certificate with a parsed leaf. ratio
// is the renewal window ratio that applies to it (certmagic's
// RenewalWindowRatio: renew when less than this part of the lifetime
// remains), used when the CA gave no ARI renewal time.
func newEntry(cert *certmagic.Certificate, o certs.Origin, ratio float64, in *certs.Interner) *entry {
	e := &entry{
		Facts: certs.NewFacts(cert, o, in),
		slot:  o.Kind.String() + "|" + slotOf(cert.Names),
	}
	e.renewAt = renewalPoint(cert.Leaf.NotBefore, cert.Leaf.NotAfter, ratio)
	if !o.ARIAt.IsZero() {
		e.renewAt = o.ARIAt
	}
	return e
}

// renewalPoint is when certmagic starts renewing a certificate without
// ARI: once less than ratio of its lifetime remains.
func renewalPoint(notBefore, notAfter time.Time, ratio float64) time.Time {
	lifetime := notAfter.Sub(notBefore)
	return notAfter.Add(-time.Duration(float64(lifetime) * orDefaultRatio(ratio)))
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
