package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/imagegate/imagegate/metadata"
)

// Finish implements metadata.Store with one UPDATE of the status, reason
// and commit time (the body is not rewritten: reads overlay these columns
// on it) that also clears the pending flag, taking the record out of the
// pending index, on the condition that the record is pending. When no row
// matched, Finish reads those columns back: missing record →
// metadata.ErrNotFound; already finished with the same status, reason and
// time → nil (a retry); otherwise metadata.ErrConflict. f.Status must be
// final (not pending).
func (s *Store) Finish(ctx context.Context, id string, f metadata.Finish) error {
	switch {
	case f.Status == "" || f.Status == metadata.StatusPending:
		return fmt.Errorf("metadata/sqlstore: finish %s: %w: %q is not a final status", id, metadata.ErrInvalid, f.Status)
	case len(f.Reason) > maxReasonBytes:
		return fmt.Errorf("metadata/sqlstore: finish %s: %w: reason of %d bytes, at most %d", id, metadata.ErrInvalid, len(f.Reason), maxReasonBytes)
	}
	if err := checkID(id); err != nil {
		return fmt.Errorf("metadata/sqlstore: finish: %w", err)
	}
	if err := checkText("status", string(f.Status), maxWordBytes); err != nil {
		return fmt.Errorf("metadata/sqlstore: finish %s: %w", id, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("metadata/sqlstore: finish %s: %w", id, err)
	}
	qctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	at := f.CommittedAt.Format(time.RFC3339Nano)
	res, err := s.db.pool.ExecContext(qctx, s.d.Rebind("UPDATE "+tableRecords+
		" SET status = ?, reason = ?, committed_at = ?, pending = FALSE WHERE id = ? AND "+s.d.pendingTrue),
		string(f.Status), []byte(f.Reason), at, id)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = s.compareFinished(qctx, id, f)
		}
	}
	if err != nil {
		return s.fail(ctx, "finish", id, err)
	}
	return nil
}

// compareFinished decides a Finish that updated no row.
func (s *Store) compareFinished(ctx context.Context, id string, f metadata.Finish) error {
	var status, committed string
	var reason []byte
	err := s.db.pool.QueryRowContext(ctx, s.d.Rebind("SELECT status, reason, committed_at FROM "+tableRecords+" WHERE id = ?"), id).
		Scan(&status, &reason, &committed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %s", metadata.ErrNotFound, id)
	case err != nil:
		return err
	}
	at, perr := time.Parse(time.RFC3339Nano, committed)
	if metadata.Status(status) == f.Status && string(reason) == f.Reason && perr == nil && at.Equal(f.CommittedAt) {
		return nil // a retry
	}
	return fmt.Errorf("%w: %s is already %s", metadata.ErrConflict, id, status)
}

// checkID refuses an id no record can have (empty, too long, not UTF-8)
// before any SQL.
func checkID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: no record id", metadata.ErrInvalid)
	}
	return checkText("id", id, maxIDBytes)
}
