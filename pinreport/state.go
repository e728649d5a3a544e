package pinreport

import (
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
	inv      *inventory    // the cached certificates and the readers' view
	renewals *renewalLog   // renewal status by identifier, from events
	recent   *recentEvents // IDs of the latest events, to drop repeats
	observed *nameSet      // names seen in cache events
	counts   *counters
}

func newState() *state {
	return &state{
		inv:      newInventory(),
		renewals: newRenewalLog(),
		recent:   new(recentEvents),
		observed: newNameSet(),
		counts:   new(counters),
	}
}

// Destruct implements caddy.Destructor; a state holds no resources.
func (*state) Destruct() error { return nil }

// forget drops observed names that no longer have a certificate in the
// cache (evicted on-demand certificates, unloaded files), and their
// renewal status unless it records a failure.
func (s *state) forget(names []string) {
	s.observed.remove(names)
	s.renewals.forget(names)
}

// Interface guards
var _ caddy.Destructor = (*state)(nil)
