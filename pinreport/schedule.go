package pinreport

import "container/heap"

// schedule orders entries by the time their expiry level next rises
// (entry.nextAt), so that the inventory does work for a certificate only
// when its level changes, never per certificate per tick. It keeps each
// entry's index in entry.heapAt. It belongs to the inventory and is
// guarded by its lock.
type schedule []*entry

func (s schedule) Len() int           { return len(s) }
func (s schedule) Less(i, j int) bool { return s[i].nextAt < s[j].nextAt }
func (s schedule) Swap(i, j int) {
	s[i], s[j] = s[j], s[i]
	s[i].heapAt, s[j].heapAt = int32(i), int32(j)
}

// Push implements heap.Interface; use set.
func (s *schedule) Push(x any) {
	e := x.(*entry)
	e.heapAt = int32(len(*s))
	*s = append(*s, e)
}

// Pop implements heap.Interface; use unset.
func (s *schedule) Pop() any {
	old := *s
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*s = old[:len(old)-1]
	e.heapAt = -1
	return e
}

// set schedules e at e.nextAt, or unschedules it when nextAt is 0.
func (s *schedule) set(e *entry) {
	switch {
	case e.nextAt == 0:
		s.unset(e)
	case e.heapAt >= 0:
		heap.Fix(s, int(e.heapAt))
	default:
		heap.Push(s, e)
	}
}

// unset removes e from the schedule, if it is in it.
func (s *schedule) unset(e *entry) {
	if e.heapAt >= 0 {
		heap.Remove(s, int(e.heapAt))
	}
}

// first returns the entry due first, or nil.
func (s schedule) first() *entry {
	if len(s) == 0 {
		return nil
	}
	return s[0]
}
