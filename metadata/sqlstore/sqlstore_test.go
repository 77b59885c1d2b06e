package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/sqlstore"
	"github.com/imagegate/imagegate/metadata/sqlstore/sqltest"
	"github.com/imagegate/imagegate/metadata/storetest"
)

// newStore returns a Store on a new, empty schema of driver's test server.
func newStore(t testing.TB, driver string) *sqlstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := sqlstore.New(ctx, sqltest.Config(t, driver))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// TestContract runs the metadata.Store contract suite on PostgreSQL and on
// MySQL (MariaDB).
func TestContract(t *testing.T) {
	for _, driver := range sqltest.Drivers {
		t.Run(driver, func(t *testing.T) {
			sqltest.DSN(t, driver)
			storetest.Run(t, func(t *testing.T) metadata.Store { return newStore(t, driver) })
		})
	}
}

// BenchmarkPut reports Put latency (p50-ms, p99-ms) and writes/s on each
// server with 1 and 32 concurrent writers, each run on a new schema.
func BenchmarkPut(b *testing.B) {
	for _, driver := range sqltest.Drivers {
		for _, concurrency := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/concurrency=%d", driver, concurrency), func(b *testing.B) {
				s := newStore(b, driver)
				defer s.Close()
				storetest.BenchmarkPut(b, s, concurrency)
			})
		}
	}
}
