package pinreport

import (
	"slices"
	"sync"
)

// recentEvents remembers the IDs of the latest events, so that an event
// delivered twice (to the handler the app subscribes and to one wired in
// the events config) is handled once.
type recentEvents struct {
	mu  sync.Mutex
	ids [32]string
	at  int
}

// seen records id and reports whether it was seen before.
func (r *recentEvents) seen(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if slices.Contains(r.ids[:], id) {
		return true
	}
	r.ids[r.at] = id
	r.at = (r.at + 1) % len(r.ids)
	return false
}
