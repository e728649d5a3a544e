package pinreport

import (
	"sync/atomic"

	"github.com/hardtls/caddy-hardtls/internal/finding"
)

// counter names one of the app's monotonic counters.
type counter uint8

// The counters, exported as the *_total metrics.
const (
	countRenewals        counter = iota // cert_obtained with renewal set
	countRenewalFailures                // cert_failed with renewal set
	countObtainFailures                 // cert_failed without renewal
	countPinChanges                     // renewals that changed the leaf key
	countPinMismatches                  // certificates matching none of a host's pins
	countWebhookSent
	countWebhookFailed
	countWebhookDropped
	numCounters
)

// counters are what the app counts. They live in the state shared across
// configs, so that a reload does not reset them; every change goes through
// their methods.
type counters struct {
	v           [numCounters]atomic.Uint64
	alerts      [finding.Critical + 1]atomic.Uint64
	revocations [len(revocationSources)]atomic.Uint64
}

// revocationSources name where a revocation was found, as the
// revocations_total metric's source label says.
var revocationSources = [...]string{revocationSourceCRL, revocationSourceStaple, revocationSourceOCSP}

// inc adds one to c.
func (cs *counters) inc(c counter) { cs.v[c].Add(1) }

// get returns the value of c.
func (cs *counters) get(c counter) uint64 { return cs.v[c].Load() }

// alert counts an alert of severity sev.
func (cs *counters) alert(sev Severity) {
	if int(sev) < len(cs.alerts) {
		cs.alerts[sev].Add(1)
	}
}

// revoked counts a certificate found revoked by source (one of
// revocationSources).
func (cs *counters) revoked(source string) {
	for i, s := range revocationSources {
		if s == source {
			cs.revocations[i].Add(1)
		}
	}
}

// revokedCount returns how many certificates source found revoked.
func (cs *counters) revokedCount(source string) uint64 {
	for i, s := range revocationSources {
		if s == source {
			return cs.revocations[i].Load()
		}
	}
	return 0
}

// alertCount returns how many alerts of severity sev were raised.
func (cs *counters) alertCount(sev Severity) uint64 {
	if int(sev) >= len(cs.alerts) {
		return 0
	}
	return cs.alerts[sev].Load()
}
