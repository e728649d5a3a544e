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
	countRevocations                    // certificates found revoked, whatever the source
	countWebhookSent
	countWebhookFailed
	countWebhookDropped
	numCounters
)

// counters are what the app counts. They live in the state shared across
// configs, so that a reload does not reset them; every change goes through
// their methods.
type counters struct {
	v      [numCounters]atomic.Uint64
	alerts [finding.Critical + 1]atomic.Uint64
}

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

// alertCount returns how many alerts of severity sev were raised.
func (cs *counters) alertCount(sev Severity) uint64 {
	if int(sev) >= len(cs.alerts) {
		return 0
	}
	return cs.alerts[sev].Load()
}
