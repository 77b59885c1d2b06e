package storetest

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagegate/imagegate/metadata"
)

// BenchmarkPut measures s.Put of b.N new, typical push records (one layer,
// a few hundred bytes of JSON) by concurrency writers at once, and reports
// besides ns/op (wall time per write at that concurrency):
//   - p50-ms and p99-ms: the latency of one Put, in milliseconds;
//   - writes/s: records stored per second.
//
// Records get fresh ids (metadata.NewID) so that repeated runs on the same
// store never degrade into idempotent retries. Implementations call it
// from their own benchmarks, one sub-benchmark per concurrency.
func BenchmarkPut(b *testing.B, s metadata.Store, concurrency int) {
	b.Helper()
	concurrency = max(concurrency, 1)
	records := make([]*metadata.Record, b.N)
	for i := range records {
		r := record(i, "bench/app", "alice")
		r.ID = metadata.NewID()
		records[i] = r
	}
	latencies := make([]time.Duration, b.N)
	var next atomic.Int64
	var firstErr atomic.Pointer[error]
	ctx := context.Background()

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(records) || firstErr.Load() != nil {
					return
				}
				t0 := time.Now()
				err := s.Put(ctx, records[i])
				latencies[i] = time.Since(t0)
				if err != nil {
					firstErr.CompareAndSwap(nil, &err)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := firstErr.Load(); err != nil {
		b.Fatalf("Put: %v", *err)
	}

	slices.Sort(latencies)
	b.ReportMetric(ms(percentile(latencies, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(latencies, 99)), "p99-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
}

// percentile returns the p-th percentile (nearest rank) of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (len(sorted)*p + 99) / 100 // ceil(n·p/100)
	return sorted[max(rank, 1)-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
