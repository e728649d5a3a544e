package pinreport

import (
	"container/heap"
	"sync"
	"time"
)

// lookupDelays are when a name a certificate event announced is looked
// up, after the event: certmagic emits cert_obtained before the cache
// holds the new certificate, and cached_unmanaged_cert too for
// certificates loaded by the config, so the first lookup waits a little
// and two more follow unless one already found a new certificate.
var lookupDelays = [...]time.Duration{250 * time.Millisecond, time.Second, 3 * time.Second}

// pendingNames are the names certificate events announced, waiting to be
// looked up by the running app. Event handlers only add to it (certmagic
// emits events synchronously: the handler must be quick); the app's loop
// takes what is due.
type pendingNames struct {
	mu    sync.Mutex
	queue lookupQueue
	wake  chan struct{} // signalled when a name is added
}

type pendingName struct {
	name    string
	due     int64 // Unix nanoseconds
	attempt uint8 // index into lookupDelays of this lookup
	since   int64 // when the event came
}

func newPendingNames() *pendingNames {
	return &pendingNames{wake: make(chan struct{}, 1)}
}

// add queues names announced by an event at now.
func (p *pendingNames) add(names []string, now time.Time) {
	if len(names) == 0 {
		return
	}
	p.mu.Lock()
	for _, n := range names {
		if n != "" {
			heap.Push(&p.queue, pendingName{name: n, due: now.Add(lookupDelays[0]).UnixNano(), since: now.UnixNano()})
		}
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// take removes and returns the names due at now.
func (p *pendingNames) take(now time.Time) []pendingName {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []pendingName
	t := now.UnixNano()
	for len(p.queue) > 0 && p.queue[0].due <= t {
		out = append(out, heap.Pop(&p.queue).(pendingName))
	}
	return out
}

// retry queues the next lookup of n, if it has one left.
func (p *pendingNames) retry(n pendingName) {
	n.attempt++
	if int(n.attempt) >= len(lookupDelays) {
		return
	}
	n.due = time.Unix(0, n.since).Add(lookupDelays[n.attempt]).UnixNano()
	p.mu.Lock()
	heap.Push(&p.queue, n)
	p.mu.Unlock()
}

// nextDue returns when the next name is due, or the zero time.
func (p *pendingNames) nextDue() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		return time.Time{}
	}
	return time.Unix(0, p.queue[0].due)
}

// lookupQueue orders pending names by when they are due.
type lookupQueue []pendingName

func (q lookupQueue) Len() int           { return len(q) }
func (q lookupQueue) Less(i, j int) bool { return q[i].due < q[j].due }
func (q lookupQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *lookupQueue) Push(x any)        { *q = append(*q, x.(pendingName)) }
func (q *lookupQueue) Pop() any {
	old := *q
	n := old[len(old)-1]
	*q = old[:len(old)-1]
	return n
}
