package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/imagegate/imagegate/metadata"
)

// insertColumns are the columns Put writes, in its arguments' order.
var insertColumns = []string{"id", "repository", "user_subject", "digest", "kind", "status", "reason",
	"committed_at", "pending", "body_sum", "encoding", "body"}

// Put implements metadata.Store with one INSERT that does nothing when the
// id exists (ON CONFLICT DO NOTHING; MySQL's no-op ON DUPLICATE KEY
// UPDATE), so a retried Put never duplicates and a pending record enters
// the pending index in the same statement. When the id exists, Put
// compares the stored checksum of the first Put's content with r's: equal
// is a retry (nil), different is metadata.ErrConflict. A Put retried after
// Finish therefore still succeeds.
func (s *Store) Put(ctx context.Context, r *metadata.Record) error {
	w, err := encode(r)
	if err != nil {
		return fmt.Errorf("metadata/sqlstore: put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("metadata/sqlstore: put %s: %w", r.ID, err)
	}
	qctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	res, err := s.db.pool.ExecContext(qctx, s.d.InsertIgnore(tableRecords, "id", insertColumns...),
		w.id, w.repository, w.user, w.digest, w.kind, w.status, w.reason, w.committed, w.pending, w.sum, w.encoding, w.body)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = s.compareStored(qctx, w)
		}
	}
	if err != nil {
		return s.fail(ctx, "put", r.ID, err)
	}
	return nil
}

// compareStored decides a Put that found its id already stored.
func (s *Store) compareStored(ctx context.Context, w *row) error {
	var sum string
	err := s.db.pool.QueryRowContext(ctx, s.d.Rebind("SELECT body_sum FROM "+tableRecords+" WHERE id = ?"), w.id).Scan(&sum)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: record %s vanished while being compared; retry", metadata.ErrUnavailable, w.id)
	case err != nil:
		return err
	case sum == w.sum:
		return nil // a retry of a stored record
	}
	return fmt.Errorf("%w: %s exists with other content", metadata.ErrConflict, w.id)
}
