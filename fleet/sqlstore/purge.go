package sqlstore

import (
	"context"
	"time"
)

// SQL has no TTL: expired rows stay until deleted. Reads and writes
// already treat them as absent; the purge only reclaims their space.
// Each process runs at most one purge per purgeEvery, in the background
// after a Put, deleting at most purgeBatch expired rows (through the
// expiry index) so that it never holds locks for long.
const (
	purgeEvery   = time.Minute
	purgeBatch   = 500
	purgeTimeout = 10 * time.Second
)

// maybePurge starts a purge when the last one is purgeEvery old.
func (s *Store) maybePurge(now time.Time) {
	last := s.lastPurge.Load()
	if now.UnixMilli()-last < purgeEvery.Milliseconds() || !s.lastPurge.CompareAndSwap(last, now.UnixMilli()) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), purgeTimeout)
		defer cancel()
		_, _ = s.Purge(ctx) // best effort: the next one retries
	}()
}

// Purge deletes up to purgeBatch rows expired by now and returns how
// many it deleted.
func (s *Store) Purge(ctx context.Context) (int64, error) {
	d := s.db.Dialect()
	res, err := s.db.SQL().ExecContext(ctx, d.BoundedDelete("imagegate_fleet", "space, item_key", "expires_ms > 0 AND expires_ms <= ?", purgeBatch),
		s.now().UnixMilli())
	if err != nil {
		return 0, fail(ctx, "purge", "", "", err)
	}
	return res.RowsAffected()
}
