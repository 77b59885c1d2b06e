package metadata

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"
)

var (
	// ErrNotFound: no record with that id (or none matching).
	ErrNotFound = errors.New("metadata: record not found")
	// ErrConflict: a record with that id exists with other content, or
	// Finish found the record no longer pending.
	ErrConflict = errors.New("metadata: conflicting record")
	// ErrInvalid: the record or query is malformed (missing id, bad cursor).
	ErrInvalid = errors.New("metadata: invalid")
	// ErrUnavailable wraps failures to reach the backend; callers treat
	// them as transient (fail closed, or queue in the outbox).
	ErrUnavailable = errors.New("metadata: store unavailable")
)

// Store keeps records. Implementations are safe for concurrent use.
//
// Contract (checked by storetest for every implementation):
//   - Put is idempotent: putting a record whose ID exists with identical
//     content succeeds and stores nothing new; different content is
//     ErrConflict. A retried Put therefore never duplicates a record.
//   - Finish moves a pending record to its final status exactly once;
//     finishing it again to the same status and time succeeds (retry).
//     Finish to pending (or to no status) is ErrInvalid.
//   - List returns records newest first (descending ID), at most
//     Query.Limit per page, with an opaque cursor for the next page
//     ("" on the last page). Pages neither skip nor repeat records that
//     existed when the first page was read.
//   - Pending returns the records still pending, oldest first (ascending
//     ID), read from an index of pending records: its cost follows the
//     number of pending records, not the size of the store. Put of a
//     pending record enters it in that index and Finish removes it, in
//     the same write. Paging is as for List; finishing records between
//     pages (as a sweeper does) disturbs no page.
//   - Every method honours ctx: cancelled or past its deadline, it returns
//     an error wrapping ctx.Err() and changes nothing it had not committed.
//   - Backend failures wrap ErrUnavailable.
type Store interface {
	// Put stores r. r.ID, r.Repository, r.Kind and r.Status must be set.
	Put(ctx context.Context, r *Record) error
	// Finish sets the final status of pending record id.
	Finish(ctx context.Context, id string, f Finish) error
	// Get returns the record with id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Record, error)
	// List returns one page of the records matching q, newest first.
	List(ctx context.Context, q Query) (Page, error)
	// Pending returns one page of the pending records matching q, oldest
	// first. Every record returned is pending when read.
	Pending(ctx context.Context, q PendingQuery) (Page, error)
	// Ping checks the backend is reachable, for readiness.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// Finish is the final outcome of a pending record.
type Finish struct {
	Status      Status
	Reason      string
	CommittedAt time.Time
}

// Query selects records. At most one of Repository, User and Digest picks
// the index; with Digest, Repository narrows to that repository. Since
// keeps records received at or after it.
type Query struct {
	Repository string
	User       string
	Digest     digest.Digest
	Since      time.Time
	Limit      int
	Cursor     string
}

// DefaultLimit and MaxLimit bound Query.Limit (0 means DefaultLimit).
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// Page is one page of List or Pending.
type Page struct {
	Records []*Record
	// Next is the cursor of the next page, "" when this is the last.
	Next string
}

// Normalize checks q and fills in its default limit.
func (q Query) Normalize() (Query, error) {
	var err error
	if q.Limit, err = normalizeLimit(q.Limit); err != nil {
		return q, err
	}
	if q.Digest != "" {
		if err := q.Digest.Validate(); err != nil {
			return q, errors.Join(ErrInvalid, err)
		}
	}
	return q, nil
}

// normalizeLimit checks a page size, 0 meaning DefaultLimit.
func normalizeLimit(limit int) (int, error) {
	switch {
	case limit < 0 || limit > MaxLimit:
		return limit, errors.Join(ErrInvalid, errors.New("limit must be between 1 and 1000"))
	case limit == 0:
		return DefaultLimit, nil
	}
	return limit, nil
}

// Validate reports whether r can be stored.
func (r *Record) Validate() error {
	switch {
	case r.ID == "":
		return errors.Join(ErrInvalid, errors.New("record has no id"))
	case r.Repository == "":
		return errors.Join(ErrInvalid, errors.New("record has no repository"))
	case r.Kind == "":
		return errors.Join(ErrInvalid, errors.New("record has no kind"))
	case r.Status == "":
		return errors.Join(ErrInvalid, errors.New("record has no status"))
	}
	return nil
}
