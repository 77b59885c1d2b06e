package notify

import "sync"

// queue is the in-memory schedule of the outbox's pending deliveries: one
// FIFO per endpoint, so that choosing what to send next costs the
// deliveries started, not the size of the backlog (an endpoint that is
// down skips its whole list at once). The outbox stays the durable truth:
// the queue is rebuilt from it at start-up.
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
	l := q.lists[p.d.Endpoint]
	i := 0
	for i < len(l) && l[i].gone {
		l[i] = nil
		i++
	}
	q.lists[p.d.Endpoint] = l[i:]
}
