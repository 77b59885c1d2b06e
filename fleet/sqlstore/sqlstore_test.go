package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/fleet/fleettest"
	"github.com/imagegate/imagegate/metadata/sqlstore/sqltest"
	"github.com/imagegate/imagegate/pulls/pullstest"
)

// newTestStore returns a Store on a new, empty schema of driver's server.
func newTestStore(t *testing.T, driver string) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := New(ctx, sqltest.Config(t, driver))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestContract runs the fleet.Store contract suite on PostgreSQL and on
// MySQL (MariaDB).
func TestContract(t *testing.T) {
	for _, driver := range sqltest.Drivers {
		t.Run(driver, func(t *testing.T) {
			sqltest.DSN(t, driver)
			fleettest.Run(t, func(t *testing.T) fleet.Store { return newTestStore(t, driver) })
		})
	}
}

// TestPullsContract: pull tracking's racing flushers converge on
// PostgreSQL and MariaDB and never move a time backwards (pulls/pullstest).
func TestPullsContract(t *testing.T) {
	for _, driver := range sqltest.Drivers {
		t.Run(driver, func(t *testing.T) {
			sqltest.DSN(t, driver)
			pullstest.Run(t, func(t *testing.T) fleet.Store { return newTestStore(t, driver) })
		})
	}
}
