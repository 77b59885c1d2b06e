package sqlstore

import (
	"context"
	"fmt"

	"github.com/imagegate/imagegate/metadata"
)

// Pending implements metadata.Store with one SELECT, oldest first, over
// the pending index (PostgreSQL: the partial index of pending rows;
// MySQL: the index on the pending flag and id; pendingStatement). Its
// cost follows the number of pending records. Put and Finish keep the
// index in the statement that writes the row, so every record returned
// is pending when read.
func (s *Store) Pending(ctx context.Context, q metadata.PendingQuery) (metadata.Page, error) {
	st, err := s.pendingStatement(q)
	if err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/sqlstore: pending: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/sqlstore: pending: %w", err)
	}
	return s.page(ctx, "pending", st)
}
