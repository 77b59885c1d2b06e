package metabench

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// stats summarises one measurement: latency percentiles of single
// operations and the throughput of the whole run.
type stats struct {
	p50, p99 time.Duration
	perSec   float64
}

func (s stats) String() string {
	return fmt.Sprintf("%s / %s", ms(s.p50), ms(s.p99))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// measure runs op(0) … op(n-1) on concurrency workers, each op timed on
// its own, and stops at the first error.
func measure(n, concurrency int, op func(i int) error) (stats, error) {
	latencies := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	start := time.Now()
	var wg sync.WaitGroup
	for range max(concurrency, 1) {
		wg.Go(func() {
			for firstErr.Load() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				err := op(i)
				latencies[i] = time.Since(t0)
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	if err := firstErr.Load(); err != nil {
		return stats{}, *err
	}
	slices.Sort(latencies)
	return stats{p50: percentile(latencies, 50), p99: percentile(latencies, 99),
		perSec: float64(n) / wall.Seconds()}, nil
}

// percentile returns the p-th percentile (nearest rank) of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (len(sorted)*p + 99) / 100
	return sorted[max(rank, 1)-1]
}
