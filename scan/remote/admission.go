package remote

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// errFull: every worker is busy and the queue is full, or a queued scan
// found no worker within the queue wait.
var errFull = errors.New("all scan workers busy and the queue full")

// admission bounds the scans a server runs (workers) and how many may wait
// for one (queue), and for how long (wait). It never lets a request wait
// longer than wait: a full server answers at once.
type admission struct {
	slots chan struct{}
	queue int
	wait  time.Duration

	mu      sync.Mutex
	waiting int

	waits     atomic.Uint64 // scans that queued, then got a worker or gave up
	waitNanos atomic.Int64  // their total wait
}

func newAdmission(workers, queue int, wait time.Duration) *admission {
	return &admission{slots: make(chan struct{}, workers), queue: queue, wait: wait}
}

// enter takes a worker, waiting in the queue when there is room in it. It
// returns errFull when there is none, or when no worker frees up within
// the queue wait; ctx's error when ctx ends first. A nil error must be
// followed by leave.
func (a *admission) enter(ctx context.Context) error {
	select {
	case a.slots <- struct{}{}:
		return nil
	default:
	}
	a.mu.Lock()
	if a.waiting >= a.queue {
		a.mu.Unlock()
		return errFull
	}
	a.waiting++
	a.mu.Unlock()
	queued := time.Now()
	defer func() {
		a.mu.Lock()
		a.waiting--
		a.mu.Unlock()
		a.waits.Add(1)
		a.waitNanos.Add(int64(time.Since(queued)))
	}()
	t := time.NewTimer(a.wait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return nil
	case <-t.C:
		return errFull
	case <-ctx.Done():
		return ctx.Err()
	}
}

// leave frees the worker enter took.
func (a *admission) leave() { <-a.slots }

// load returns the running and queued scans.
func (a *admission) load() (running, queued int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.slots), a.waiting
}
