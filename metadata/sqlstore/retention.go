package sqlstore

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/imagegate/imagegate/metadata"
)

// Retention (Config.Retention > 0) keeps records that long after they
// were received (the time in their UUIDv7 id): older ones are hidden from
// every read at once and deleted by the purger, which each process runs
// in the background — first 30 to 90 s after New, then every retentionEvery
// (with jitter, so replicas seldom purge together) — in batches of
// retentionBatch rows along the primary key, so no statement holds locks
// for long. Purging is idempotent: replicas that overlap delete nothing
// twice.
const (
	retentionEvery  = 10 * time.Minute
	retentionBatch  = 1000
	retentionPerRun = 100 // batches: at most 100,000 rows per run
	retentionCall   = time.Minute
)

// retentionFloor is the smallest id a record still kept can have, ""
// without retention.
func (s *Store) retentionFloor() string {
	if s.retention <= 0 {
		return ""
	}
	return metadata.IDFloor(s.now().Add(-s.retention))
}

// expired reports whether record id is past its retention.
func (s *Store) expired(id string) bool {
	floor := s.retentionFloor()
	return floor != "" && id < floor
}

// startPurger runs the purger until Close.
func (s *Store) startPurger() {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopPurger = cancel
	s.purgerDone = make(chan struct{})
	go func() {
		defer close(s.purgerDone)
		wait := 30*time.Second + time.Duration(rand.Int64N(int64(time.Minute)))
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			_, _ = s.PurgeExpired(ctx) // best effort: the next run retries
			wait = retentionEvery/2 + time.Duration(rand.Int64N(int64(retentionEvery)))
		}
	}()
}

// PurgeExpired deletes the records past their retention, up to
// retentionPerRun batches, and returns how many it deleted; nothing
// without retention.
func (s *Store) PurgeExpired(ctx context.Context) (int64, error) {
	floor := s.retentionFloor()
	if floor == "" {
		return 0, nil
	}
	stmt := s.d.BoundedDelete(tableRecords, "id", "id < ?", retentionBatch)
	var total int64
	for range retentionPerRun {
		cctx, cancel := context.WithTimeout(ctx, retentionCall)
		res, err := s.db.pool.ExecContext(cctx, stmt, floor)
		var n int64
		if err == nil {
			n, err = res.RowsAffected()
		}
		cancel()
		if err != nil {
			return total, s.fail(ctx, "purge", "", err)
		}
		if total += n; n < retentionBatch {
			break
		}
	}
	return total, nil
}
