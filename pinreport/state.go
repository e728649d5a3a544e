package pinreport

import (
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"
)

// states shares one state among the pinreport apps of successive configs:
// events are not repeated after a reload, so what they told (renewal
// status, counters), which alerts were sent and which key each site had
// must outlive a config.
var states = caddy.NewUsagePool()

const stateKey = "pinreport"

// state is what outlives a config. Each part owns its data and its lock,
// and is reached through its methods.
type state struct {
	inv      *inventory    // the cached certificates and their indexes
	renewals *renewalLog   // renewal status by identifier, from events
	recent   *recentEvents // IDs of the latest events, to drop repeats
	pending  *pendingNames // names events announced, to look up
	counts   *counters

	// reconcileSoon asks the running app for a full reconcile: a config
	// that stops may take certificates out of the cache without events.
	reconcileSoon chan struct{}
	// seq numbers the configs' policies, newest highest.
	seq atomic.Uint64
}

func newState() *state {
	return &state{
		inv:           newInventory(),
		renewals:      newRenewalLog(),
		recent:        new(recentEvents),
		pending:       newPendingNames(),
		counts:        new(counters),
		reconcileSoon: make(chan struct{}, 1),
	}
}

// newPolicy numbers a config's policy.
func (s *state) newPolicy(th thresholds, rules pinRules) *policy {
	return &policy{seq: s.seq.Add(1), th: th, rules: rules}
}

// requestReconcile asks the running app for a reconcile; it never blocks.
func (s *state) requestReconcile() {
	select {
	case s.reconcileSoon <- struct{}{}:
	default:
	}
}

// Destruct implements caddy.Destructor; a state holds no resources.
func (*state) Destruct() error { return nil }

// Interface guards
var _ caddy.Destructor = (*state)(nil)
