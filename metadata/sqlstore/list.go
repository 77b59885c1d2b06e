package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/imagegate/imagegate/metadata"
)

// List implements metadata.Store with one SELECT, newest first, that
// range-scans one index: by digest (narrowed to the repository when both
// are given), by repository, by user, or the primary key without a
// filter; bounded below by the id floor of q.Since (or of the retention,
// when later) and above by the cursor's id. It reads Limit+1 rows to know whether a page follows; the
// cursor is the id of the page's last record, so pages neither skip nor
// repeat.
func (s *Store) List(ctx context.Context, q metadata.Query) (metadata.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/sqlstore: list: %w", err)
	}
	before, err := metadata.DecodeIDCursor(q.Cursor)
	if err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/sqlstore: list: %w", err)
	}
	if err := checkFilter("repository", q.Repository); err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/sqlstore: list: %w", err)
	}
	if err := checkFilter("user", q.User); err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/sqlstore: list: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return metadata.Page{}, fmt.Errorf("metadata/sqlstore: list: %w", err)
	}
	var where []string
	var args []any
	and := func(cond string, arg any) { where = append(where, cond); args = append(args, arg) }
	switch {
	case q.Digest != "":
		and("digest = ?", q.Digest.String())
		if q.Repository != "" {
			and("repository = ?", q.Repository)
		}
	case q.Repository != "":
		and("repository = ?", q.Repository)
	case q.User != "":
		and("user_subject = ?", q.User)
	}
	if before != "" {
		and("id < ?", before)
	}
	floor := s.retentionFloor()
	if !q.Since.IsZero() {
		floor = max(floor, metadata.IDFloor(q.Since))
	}
	if floor != "" {
		and("id >= ?", floor)
	}
	query := "SELECT " + recordColumns + " FROM " + tableRecords
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	return s.page(ctx, "list", query+" ORDER BY id DESC LIMIT ?", q.Limit, args)
}

// page runs query (constant text with ? placeholders, its last one the
// row limit) with args and limit+1, and returns the first limit records
// with the cursor of the next page when there was one more row.
func (s *Store) page(ctx context.Context, op, query string, limit int, args []any) (metadata.Page, error) {
	qctx, cancel := s.db.WithTimeout(ctx)
	defer cancel()
	rows, err := s.db.pool.QueryContext(qctx, s.d.Rebind(query), append(args, limit+1)...)
	if err != nil {
		return metadata.Page{}, s.fail(ctx, op, "", err)
	}
	defer rows.Close()
	var page metadata.Page
	for rows.Next() {
		if len(page.Records) == limit {
			page.Next = metadata.EncodeCursor([]byte(page.Records[limit-1].ID))
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

// checkFilter refuses a filter value no record can match (too long, not
// UTF-8, NUL) with metadata.ErrInvalid, before any SQL.
func checkFilter(name, value string) error {
	return checkText(name+" filter", value, maxNameBytes)
}
