package sqlstore

import (
	"errors"
	"testing"
	"time"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/metadata/sqlstore/sqltest"
)

// TestPurge: Purge deletes the rows expired by the clock and only them;
// an expired row is absent to Get before and after.
func TestPurge(t *testing.T) {
	for _, driver := range sqltest.Drivers {
		t.Run(driver, func(t *testing.T) {
			s := newTestStore(t, driver)
			ctx := t.Context()
			base := time.Now()
			s.now = func() time.Time { return base }
			s.lastPurge.Store(base.UnixMilli()) // no background purge during the test
			for _, k := range []string{"a", "b", "c"} {
				if _, err := s.Put(ctx, "locks", k, []byte(k), 0, time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Put(ctx, "locks", "forever", []byte("x"), 0, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Put(ctx, "locks", "later", []byte("x"), 0, time.Hour); err != nil {
				t.Fatal(err)
			}
			s.now = func() time.Time { return base.Add(2 * time.Minute) }
			if _, err := s.Get(ctx, "locks", "a"); !errors.Is(err, fleet.ErrNotFound) {
				t.Fatalf("expired, not purged: got %v, want ErrNotFound", err)
			}
			n, err := s.Purge(ctx)
			if err != nil || n != 3 {
				t.Fatalf("Purge: %d rows, %v; want 3", n, err)
			}
			var rows int
			if err := s.db.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM imagegate_fleet").Scan(&rows); err != nil || rows != 2 {
				t.Fatalf("%d rows left (%v), want 2", rows, err)
			}
			if n, err := s.Purge(ctx); err != nil || n != 0 {
				t.Fatalf("second Purge: %d rows, %v", n, err)
			}
		})
	}
}
