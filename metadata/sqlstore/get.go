package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/imagegate/imagegate/metadata"
)

// Get implements metadata.Store: one SELECT by primary key.
func (s *Store) Get(ctx context.Context, id string) (*metadata.Record, error) {
	if err := checkID(id); err != nil {
		return nil, fmt.Errorf("metadata/sqlstore: get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("metadata/sqlstore: get %s: %w", id, err)
	}
	qctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	w, err := scanRow(s.db.pool.QueryRowContext(qctx, s.d.Rebind("SELECT "+recordColumns+" FROM "+tableRecords+" WHERE id = ?"), id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("metadata/sqlstore: get %s: %w", id, metadata.ErrNotFound)
	case err != nil:
		return nil, s.fail(ctx, "get", id, err)
	case s.expired(id):
		return nil, fmt.Errorf("metadata/sqlstore: get %s: %w (past its retention)", id, metadata.ErrNotFound)
	}
	r, err := w.decode()
	if err != nil {
		return nil, fmt.Errorf("metadata/sqlstore: get: %w", err)
	}
	return r, nil
}
