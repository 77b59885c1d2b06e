package sqlstore

import (
	"context"
	"fmt"

	"github.com/imagegate/imagegate/metadata"
)

// List implements metadata.Store with one SELECT, newest first, that
// range-scans one index (listStatement). It reads Limit+1 rows to know
// whether a page follows; the cursor is the id of the page's last record,
// so pages neither skip nor repeat.
func (s *Store) List(ctx context.Context, q metadata.Query) (metadata.Page, error) {
	st, err := s.listStatement(q)
	if err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/sqlstore: list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/sqlstore: list: %w", err)
	}
	return s.page(ctx, "list", st)
}

// page runs st with limit+1 rows and returns the first limit records with
// the cursor of the next page when there was one more row.
func (s *Store) page(ctx context.Context, op string, st statement) (metadata.Page, error) {
	qctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	rows, err := s.db.pool.QueryContext(qctx, s.d.Rebind(st.query), append(st.args, st.limit+1)...)
	if err != nil {
		return metadata.Page{}, s.fail(ctx, op, "", err)
	}
	defer rows.Close()
	var page metadata.Page
	for rows.Next() {
		if len(page.Records) == st.limit {
			page.Next = metadata.EncodeCursor([]byte(page.Records[st.limit-1].ID))
			break
		}
		w, err := scanRow(rows)
		if err != nil {
			return metadata.Page{}, s.fail(ctx, op, "", err)
		}
		r, err := w.decode()
		if err != nil {
			return metadata.Page{}, fmt.Errorf("metadata/sqlstore: %s: %w", op, err)
		}
		page.Records = append(page.Records, r)
	}
	if err := rows.Err(); err != nil {
		return metadata.Page{}, s.fail(ctx, op, "", err)
	}
	return page, nil
}
