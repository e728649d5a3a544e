package pinreport

import (
	"hash/maphash"
	"slices"
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

// numKinds is the number of issuer kinds.
const numKinds = int(KindInternal) + 1

// entry is the inventory's record of one cached certificate: its facts,
// computed once when the certificate is first seen, and the inventory's
// bookkeeping. A renewal is a new certificate, hence a new entry. The
// facts never change; the bookkeeping belongs to the inventory and is
// guarded by its lock.
type entry struct {
	certs.Facts
	slot    uint64    // kind and sorted names, hashed; stays the same across renewals
	renewAt time.Time // expected renewal point

	// The inventory's bookkeeping.
	gen        uint32   // the last reconcile or lookup that saw the entry
	level      level    // the expiry level as of the last change the schedule saw
	alerted    level    // the highest expiry level alerted
	heapAt     int32    // index in the schedule; -1 when not scheduled
	nextAt     int64    // when the level next changes, Unix nanoseconds; 0 never
	mismatched []string // patterns whose pin mismatch was alerted
	rev        revState
}

// slotSeed keys the hash of slots; it lives as long as the process, as
// the inventory does.
var slotSeed = maphash.MakeSeed()

// newEntry computes the entry of a certificate with a parsed leaf. ratio
// is the renewal window ratio that applies to it (certmagic's
// RenewalWindowRatio: renew when less than this part of the lifetime
// remains), used when the CA gave no ARI renewal time.
func newEntry(cert *certmagic.Certificate, o certs.Origin, ratio float64, in *certs.Interner) *entry {
	e := &entry{
		Facts:  certs.NewFacts(cert, o, in),
		slot:   slotOf(o.Kind, cert.Names),
		heapAt: -1,
	}
	e.renewAt = renewalPoint(cert.Leaf.NotBefore, cert.Leaf.NotAfter, ratio)
	if !o.ARI.IsZero() {
		e.renewAt = o.ARI.At()
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
// renewal keeps: its kind and sorted names, as a 64-bit hash (the
// inventory compares the names too, so a collision costs nothing but a
// missed renewal alert).
func slotOf(kind IssuerKind, names []string) uint64 {
	if !slices.IsSorted(names) {
		names = slices.Sorted(slices.Values(names))
	}
	var h maphash.Hash
	h.SetSeed(slotSeed)
	h.WriteByte(byte(kind))
	for _, n := range names {
		h.WriteString(n)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// sameSlot reports whether a and b hold the same slot: same kind, same
// set of names.
func sameSlot(a, b *entry) bool {
	if a.slot != b.slot || a.Kind != b.Kind || len(a.Names) != len(b.Names) {
		return false
	}
	if slices.Equal(a.Names, b.Names) {
		return true
	}
	return slices.Equal(slices.Sorted(slices.Values(a.Names)), slices.Sorted(slices.Values(b.Names)))
}
