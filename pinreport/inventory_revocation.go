package pinreport

import (
	"time"

	"github.com/hardtls/caddy-hardtls/internal/revocation"
)

// revStatus is a certificate's revocation status as the inventory keeps
// it.
type revStatus uint8

const (
	revUnchecked revStatus = iota // names no CRL nor OCSP responder, or not checked yet
	revGood
	revUnknown // no trustworthy answer: a warning, never a revocation
	revRevoked
	numRevStatus
)

// revStatusNames are the names of the statuses in reports and metrics.
var revStatusNames = [numRevStatus]string{"unchecked", "good", "unknown", "revoked"}

// String returns the status name.
func (s revStatus) String() string { return revStatusNames[s] }

// revState is what the revocation checks learned about an entry. Good
// answers of a CRL are shared by every certificate the CRL covers.
type revState struct {
	status  revStatus
	alerted revStatus // revRevoked or revUnknown once alerted; revGood re-arms the unknown alert
	checked int64     // Unix seconds of the last check; 0 never
	crl     *revocation.Result
	staple  *revocation.Result
}

// revTransition is a change of revocation status to alert about.
type revTransition struct{ to revStatus }

// statusOf maps the checker's statuses onto the inventory's.
func statusOf(r *revocation.Result) revStatus {
	if r == nil {
		return revUnchecked
	}
	switch r.Status {
	case revocation.StatusGood:
		return revGood
	case revocation.StatusUnknown:
		return revUnknown
	case revocation.StatusRevoked:
		return revRevoked
	}
	return revUnchecked
}

// revocationTargets returns the entries wants says have something to
// check.
func (inv *inventory) revocationTargets(wants func(*entry) bool) []*entry {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	var out []*entry
	for _, e := range inv.byHash {
		if wants(e) {
			out = append(out, e)
		}
	}
	return out
}

// recordRevocation records the answers about e and returns the change to
// alert about, if any: a first revocation, or the first unknown answer
// of a streak. A revocation stays: a CRL that later cannot be fetched
// does not undo it.
func (inv *inventory) recordRevocation(p *policy, e *entry, res revocationCheck, now time.Time) *revTransition {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.owner != p || inv.byHash[e.Hash] != e {
		return nil // a newer config runs, or e left meanwhile
	}
	st := max(statusOf(res.crl), statusOf(res.staple))
	if e.rev.alerted == revRevoked {
		st = revRevoked
	}
	inv.setRevStatus(e, st)
	e.rev.checked, e.rev.crl, e.rev.staple = now.Unix(), res.crl, res.staple
	switch {
	case st == revRevoked && e.rev.alerted != revRevoked:
		e.rev.alerted = revRevoked
		return &revTransition{to: revRevoked}
	case st == revUnknown && e.rev.alerted != revUnknown:
		e.rev.alerted = revUnknown
		return &revTransition{to: revUnknown}
	case st == revGood && e.rev.alerted == revUnknown:
		e.rev.alerted = revGood
	}
	return nil
}

// markRevoked records that certmagic found the certificate with hash
// revoked (cert_ocsp_revoked) and reports whether that is news.
func (inv *inventory) markRevoked(hash string) bool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	e := inv.byHash[hash]
	if e == nil {
		return true // not in the inventory yet: alert anyway
	}
	if e.rev.alerted == revRevoked {
		return false
	}
	inv.setRevStatus(e, revRevoked)
	e.rev.alerted = revRevoked
	return true
}

// setRevStatus sets e's status and the counts; the caller holds mu.
func (inv *inventory) setRevStatus(e *entry, st revStatus) {
	inv.revCounts[e.rev.status]--
	inv.revCounts[st]++
	e.rev.status = st
}

// revocationOf returns a copy of e's revocation state.
func (inv *inventory) revocationOf(e *entry) revState {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return e.rev
}

// revocationCounts returns the number of entries by revocation status.
func (inv *inventory) revocationCounts() [numRevStatus]int {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	return inv.revCounts
}
