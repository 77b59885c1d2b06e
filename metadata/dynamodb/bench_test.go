package dynamodb

import (
	"fmt"
	"testing"

	"github.com/imagegate/imagegate/metadata/storetest"
)

// BenchmarkPut reports Put latency (p50-ms, p99-ms) and writes/s against
// DynamoDB Local with 1 and 32 concurrent writers, each run on a new table.
func BenchmarkPut(b *testing.B) {
	testEndpoint(b)
	for _, concurrency := range []int{1, 32} {
		b.Run(fmt.Sprintf("concurrency=%d", concurrency), func(b *testing.B) {
			storetest.BenchmarkPut(b, newTestStore(b, Config{}), concurrency)
		})
	}
}
