package sqlstore

import (
	"context"
	"fmt"

	"github.com/imagegate/imagegate/metadata"
)

// Pending implements metadata.Store with one SELECT, oldest first, over
// the pending index (PostgreSQL: the partial index of pending rows;
// MySQL: the index on the pending flag and id), above the cursor's id and
// below the id floor of q.OlderThan, narrowed to q.Repository when set
// (records past their retention are left out).
// Its cost follows the number of pending records. Put and Finish keep the
// index in the statement that writes the row, so every record returned
// is pending when read.
func (s *Store) Pending(ctx context.Context, q metadata.PendingQuery) (metadata.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/sqlstore: pending: %w", err)
	}
	after, err := metadata.DecodeIDCursor(q.Cursor)
	if err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/sqlstore: pending: %w", err)
	}
	if err := checkFilter("repository", q.Repository); err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/sqlstore: pending: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/sqlstore: pending: %w", err)
	}
	query := "SELECT " + recordColumns + " FROM " + tableRecords + " WHERE " + s.d.pendingTrue
	var args []any
	if after != "" {
		query += " AND id > ?"
		args = append(args, after)
	}
	if floor := s.retentionFloor(); floor != "" {
		query += " AND id >= ?" // past their retention: hidden
		args = append(args, floor)
	}
	if ceiling := q.Ceiling(); ceiling != "" {
		query += " AND id < ?"
		args = append(args, ceiling)
	}
	if q.Repository != "" {
		query += " AND repository = ?"
		args = append(args, q.Repository)
	}
	return s.page(ctx, "pending", query+" ORDER BY id LIMIT ?", q.Limit, args)
}
