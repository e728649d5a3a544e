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

// nameSet is a set of names safe for concurrent use: the names seen in
// certificate cache events.
type nameSet struct {
	mu    sync.RWMutex
	names map[string]struct{}
}

func newNameSet() *nameSet { return &nameSet{names: make(map[string]struct{})} }

// add adds the non-empty names.
func (s *nameSet) add(names []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		if n != "" {
			s.names[n] = struct{}{}
		}
	}
}

// list returns the names in no particular order.
func (s *nameSet) list() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.names))
	for n := range s.names {
		out = append(out, n)
	}
	return out
}

// remove drops names.
func (s *nameSet) remove(names []string) {
	if len(names) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		delete(s.names, n)
	}
}
