package metadata

import "time"

// PendingQuery selects pending records for Store.Pending: those received
// before OlderThan (to the millisecond of their time-ordered ID; zero: no
// bound) and, when Repository is set, of that repository. Limit and Cursor
// page as in Query: 0 means DefaultLimit, at most MaxLimit; Cursor is the
// Next of the previous page.
//
// A sweeper of records left pending by a crash asks for those older than
// a grace period, finishes them, and goes on with the cursor.
type PendingQuery struct {
	OlderThan  time.Time
	Repository string
	Limit      int
	Cursor     string
}

// Normalize checks q and fills in its default limit.
func (q PendingQuery) Normalize() (PendingQuery, error) {
	var err error
	q.Limit, err = normalizeLimit(q.Limit)
	return q, err
}

// Ceiling returns the id bound of OlderThan: matching records have ids
// below it. "" when OlderThan is zero (no bound).
func (q PendingQuery) Ceiling() string {
	if q.OlderThan.IsZero() {
		return ""
	}
	return IDFloor(q.OlderThan)
}
