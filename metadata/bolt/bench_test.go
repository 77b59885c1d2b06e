package bolt

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/imagegate/imagegate/metadata/storetest"
)

// BenchmarkPut reports Put latency (p50-ms, p99-ms) and writes/s with 1
// and 32 concurrent writers, each run on a new file.
func BenchmarkPut(b *testing.B) {
	for _, concurrency := range []int{1, 32} {
		b.Run(fmt.Sprintf("concurrency=%d", concurrency), func(b *testing.B) {
			s, err := Open(filepath.Join(b.TempDir(), "metadata.db"), time.Second)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchmarkPut(b, s, concurrency)
		})
	}
}
