package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/sqlstore"
	"github.com/imagegate/imagegate/metadata/sqlstore/sqltest"
)

// TestRetention: with a retention, a record received before it is
// hidden from Get, List and Pending at once and deleted by PurgeExpired;
// a recent one stays.
func TestRetention(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		const retention = 48 * time.Hour
		cfg := sqltest.Config(t, driver)
		cfg.Retention = retention
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		s, err := sqlstore.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		now := time.Now()
		old := pendingAt(now.Add(-retention-time.Hour), 1)
		recent := pendingAt(now.Add(-retention+time.Hour), 2)
		for _, r := range []*metadata.Record{old, recent} {
			if err := s.Put(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Get(ctx, old.ID); !errors.Is(err, metadata.ErrNotFound) {
			t.Errorf("Get of a record past its retention: got %v, want ErrNotFound", err)
		}
		if got := listIDs(t, s, metadata.Query{Repository: "keep/me"}); len(got) != 1 || got[0] != recent.ID {
			t.Errorf("List: %v, want only the recent record", got)
		}
		page, err := s.Pending(ctx, metadata.PendingQuery{})
		if err != nil || len(page.Records) != 1 || page.Records[0].ID != recent.ID {
			t.Errorf("Pending: %d records, %v; want only the recent one", len(page.Records), err)
		}
		if n, err := s.PurgeExpired(ctx); err != nil || n > 1 {
			t.Fatalf("PurgeExpired: %d, %v", n, err)
		}
		var left []string
		rows, err := sqltest.Raw(t, cfg).QueryContext(ctx, "SELECT id FROM imagegate_records")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			_ = rows.Scan(&id)
			left = append(left, id)
		}
		rows.Close()
		if len(left) != 1 || left[0] != recent.ID {
			t.Fatalf("rows after the purge: %v, want only %s", left, recent.ID)
		}
	})
}

// pendingAt is a pending record of keep/me received at at.
func pendingAt(at time.Time, n int) *metadata.Record {
	floor := metadata.IDFloor(at)
	return &metadata.Record{ID: fmt.Sprintf("%s%012x", floor[:24], n), Kind: metadata.KindPush, Repository: "keep/me",
		ReceivedAt: at.UTC(), Status: metadata.StatusPending}
}
