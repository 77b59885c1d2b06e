package trivy

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/imagegate/imagegate/scan"
)

// queueStats counts the waits for a worker (scan.Queue).
type queueStats struct {
	waiting   atomic.Int64
	waits     atomic.Uint64
	waitNanos atomic.Int64
}

var _ scan.Queue = (*Scanner)(nil)

// QueueStats implements scan.Queue.
func (s *Scanner) QueueStats() scan.QueueStats {
	return scan.QueueStats{Workers: cap(s.slots), Running: len(s.slots), Waiting: int(s.queue.waiting.Load()),
		Waits: s.queue.waits.Load(), WaitSeconds: time.Duration(s.queue.waitNanos.Load()).Seconds()}
}

// acquire takes a worker, waiting for one until ctx ends (ctx's error) or
// the scanner closes (scan.ErrClosed); the wait is counted in QueueStats.
func (s *Scanner) acquire(ctx context.Context) error {
	start := time.Now()
	s.queue.waiting.Add(1)
	defer func() {
		s.queue.waiting.Add(-1)
		s.queue.waits.Add(1)
		s.queue.waitNanos.Add(int64(time.Since(start)))
	}()
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return scan.ErrClosed
	}
}
