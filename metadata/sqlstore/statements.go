package sqlstore

import (
	"strings"

	"github.com/imagegate/imagegate/metadata"
)

// statement is one SELECT of List or Pending: constant text with ?
// placeholders (the last one the row limit) and its arguments.
type statement struct {
	query string
	args  []any
	limit int
}

// listStatement checks q and returns List's SELECT: the filters pick the
// index (by digest, narrowed to the repository when both are given; by
// repository; by user; or the primary key), the cursor's id bounds it
// above and the id floor of q.Since (or of the retention, when later)
// below. Which conditions appear depends only on which fields are set:
// no input ever becomes statement text (FuzzStatements).
func (s *Store) listStatement(q metadata.Query) (statement, error) {
	q, err := q.Normalize()
	if err != nil {
		return statement{}, err
	}
	before, err := cursorAndRepository(q.Cursor, q.Repository)
	if err == nil {
		err = checkFilter("user", q.User)
	}
	if err != nil {
		return statement{}, err
	}
	var where []string
	var args []any
	and := func(cond string, arg any) { where = append(where, cond); args = append(args, arg) }
	index := ""
	switch {
	case q.Digest != "":
		and("digest = ?", q.Digest.String())
		if q.Repository != "" {
			and("repository = ?", q.Repository)
		}
		index = indexDigest
	case q.Repository != "":
		and("repository = ?", q.Repository)
		index = indexRepository
	case q.User != "":
		and("user_subject = ?", q.User)
		index = indexUser
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
	if index != "" {
		query += s.d.useIndex(index)
	}
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	return statement{query: query + " ORDER BY id DESC LIMIT ?", args: args, limit: q.Limit}, nil
}

// pendingStatement checks q and returns Pending's SELECT over the pending
// index: above the cursor's id, below the id floor of q.OlderThan, at or
// above the retention's, narrowed to q.Repository when set.
func (s *Store) pendingStatement(q metadata.PendingQuery) (statement, error) {
	q, err := q.Normalize()
	if err != nil {
		return statement{}, err
	}
	after, err := cursorAndRepository(q.Cursor, q.Repository)
	if err != nil {
		return statement{}, err
	}
	query := "SELECT " + recordColumns + " FROM " + tableRecords + " WHERE " + s.d.pendingTrue
	var args []any
	and := func(cond string, arg any) { query += " AND " + cond; args = append(args, arg) }
	if after != "" {
		and("id > ?", after)
	}
	if floor := s.retentionFloor(); floor != "" {
		and("id >= ?", floor) // past their retention: hidden
	}
	if ceiling := q.Ceiling(); ceiling != "" {
		and("id < ?", ceiling)
	}
	if q.Repository != "" {
		and("repository = ?", q.Repository)
	}
	return statement{query: query + " ORDER BY id LIMIT ?", args: args, limit: q.Limit}, nil
}

// cursorAndRepository decodes a page cursor to its record id ("" for the
// first page) and checks the repository filter: what List and Pending
// both take.
func cursorAndRepository(cursor, repository string) (string, error) {
	id, err := metadata.DecodeIDCursor(cursor)
	if err != nil {
		return "", err
	}
	return id, checkFilter("repository", repository)
}

// checkFilter refuses a filter value no record can match (too long, not
// UTF-8, NUL) with metadata.ErrInvalid, before any SQL.
func checkFilter(name, value string) error {
	return checkText(name+" filter", value, maxNameBytes)
}
