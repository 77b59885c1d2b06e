package notify

import (
	"sync"
	"time"
)

// queue is the in-memory schedule of the pending deliveries this process
// holds: one FIFO per endpoint, so that choosing what to send next costs the
// deliveries started, not the size of the backlog (an endpoint that is
// down skips its whole list at once). The outbox stays the durable truth:
// the queue is filled from it (claims.adopt) at start-up and, with
// replicas, whenever this process takes over a dead replica's deliveries.
type queue struct {
	mu    sync.Mutex
	lists map[string][]*pending // endpoint name → deliveries, oldest first
	live  map[string]int        // endpoint name → deliveries not yet gone
}

// pending is one delivery in the queue. Only the dispatcher changes it
// (under queue.mu); workers get a copy of its delivery.
type pending struct {
	key      string
	d        delivery
	inflight bool
	gone     bool // delivered, buried: skipped, trimmed from the head
}

func newQueue() *queue { return &queue{lists: map[string][]*pending{}, live: map[string]int{}} }

// size is the number of deliveries queued for endpoint and not yet gone.
func (q *queue) size(endpoint string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.live[endpoint]
}

// add appends deliveries (enqueued in key order).
func (q *queue) add(ps ...*pending) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range ps {
		q.lists[p.d.Endpoint] = append(q.lists[p.d.Endpoint], p)
		q.live[p.d.Endpoint]++
	}
}

// forget marks p gone and trims its list's gone head; q.mu is held.
func (q *queue) forget(p *pending) {
	if p.gone {
		return
	}
	p.gone = true
	q.live[p.d.Endpoint]--
	q.trim(p.d.Endpoint)
}

// trim drops the gone head of endpoint's list; q.mu is held.
func (q *queue) trim(endpoint string) {
	l := q.lists[endpoint]
	i := 0
	for i < len(l) && l[i].gone {
		l[i] = nil
		i++
	}
	q.lists[endpoint] = l[i:]
}

// drop marks gone the deliveries whose key matches (another process sends
// them now) and returns how many there were. It costs the whole queue: it
// runs when a replica loses a lease, not per delivery.
func (q *queue) drop(match func(key string) bool) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for endpoint, l := range q.lists {
		for _, p := range l {
			if !p.gone && match(p.key) {
				p.gone = true
				q.live[endpoint]--
				n++
			}
		}
		q.trim(endpoint)
	}
	return n
}

// oldest returns when the oldest delivery queued for endpoint and not yet
// gone was enqueued; false when none is.
func (q *queue) oldest(endpoint string) (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range q.lists[endpoint] {
		if !p.gone {
			return p.d.Enqueued, true
		}
	}
	return time.Time{}, false
}
