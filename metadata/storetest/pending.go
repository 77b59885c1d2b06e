package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/metadata"
)

// seedPending puts n records, three by three over three repositories, in
// a shuffled order: those with i%3 == 0 stay pending, those with i%3 == 1
// are put pending and then finished, the others are put accepted (never
// pending). It returns the records, finished ones with their final status.
func seedPending(t *testing.T, s metadata.Store, n int) []*metadata.Record {
	t.Helper()
	repos := []string{"team/app", "team/db", "other/x"}
	var rs []*metadata.Record
	for i := range n {
		r := record(i, repos[(i/3)%len(repos)], "alice")
		if i%3 != 2 {
			r.Status = metadata.StatusPending
		}
		rs = append(rs, r)
	}
	order := slices.Clone(rs)
	slices.Reverse(order[n/2:])
	mustPut(t, s, order...)
	for i, r := range rs {
		if i%3 == 1 {
			finish(t, s, r, metadata.StatusFailed)
		}
	}
	return rs
}

// finish finishes r with status and records the outcome in r.
func finish(t *testing.T, s metadata.Store, r *metadata.Record, status metadata.Status) {
	t.Helper()
	at := r.ReceivedAt.Add(time.Minute)
	if err := s.Finish(context.Background(), r.ID, metadata.Finish{Status: status, CommittedAt: at}); err != nil {
		t.Fatalf("Finish %s: %v", r.ID, err)
	}
	r.Status, r.CommittedAt = status, &at
}

// expectPending returns the ids of the pending records of rs matching
// keep, oldest first.
func expectPending(rs []*metadata.Record, keep func(*metadata.Record) bool) []string {
	var ids []string
	for _, r := range rs {
		if r.Status == metadata.StatusPending && keep(r) {
			ids = append(ids, r.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// listPending pages through q and returns the records in order, checking
// that each page respects the limit, repeats nothing and holds only
// pending records.
func listPending(t *testing.T, s metadata.Store, q metadata.PendingQuery) []*metadata.Record {
	t.Helper()
	var out []*metadata.Record
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("Pending never returned an empty cursor")
		}
		page, err := s.Pending(context.Background(), q)
		if err != nil {
			t.Fatalf("Pending %+v: %v", q, err)
		}
		limit := q.Limit
		if limit == 0 {
			limit = metadata.DefaultLimit
		}
		if len(page.Records) > limit {
			t.Fatalf("page of %d records, limit %d", len(page.Records), limit)
		}
		for _, r := range page.Records {
			if seen[r.ID] {
				t.Fatalf("record %s returned twice", r.ID)
			}
			if r.Status != metadata.StatusPending {
				t.Fatalf("record %s listed as pending is %s", r.ID, r.Status)
			}
			seen[r.ID] = true
			out = append(out, r)
		}
		if page.Next == "" {
			return out
		}
		q.Cursor = page.Next
	}
}

func idsOf(rs []*metadata.Record) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

// testPending: exactly the records still pending are listed, oldest
// first, whole; finished records and records never pending are not, and a
// record leaves the listing when it is finished.
func testPending(t *testing.T, s metadata.Store) {
	rs := seedPending(t, s, 12)
	want := expectPending(rs, func(*metadata.Record) bool { return true })
	got := listPending(t, s, metadata.PendingQuery{})
	if !slices.Equal(idsOf(got), want) {
		t.Fatalf("pending:\n got %v\nwant %v", idsOf(got), want)
	}
	same(t, got[0], rs[0])

	finish(t, s, rs[0], metadata.StatusAccepted)
	if got := idsOf(listPending(t, s, metadata.PendingQuery{})); !slices.Equal(got, want[1:]) {
		t.Fatalf("after finishing %s:\n got %v\nwant %v", rs[0].ID, got, want[1:])
	}
	// Finishing to pending is no way back into the listing, or out of it.
	if err := s.Finish(context.Background(), rs[3].ID, metadata.Finish{Status: metadata.StatusPending}); !isErr(err, metadata.ErrInvalid) {
		t.Fatalf("Finish to pending: got %v, want ErrInvalid", err)
	}
	if got := idsOf(listPending(t, s, metadata.PendingQuery{})); !slices.Equal(got, want[1:]) {
		t.Fatalf("after a refused Finish:\n got %v\nwant %v", got, want[1:])
	}
}

// testPendingNone: a store with no pending record answers an empty page.
func testPendingNone(t *testing.T, s metadata.Store) {
	seed(t, s, 5) // all accepted
	page, err := s.Pending(context.Background(), metadata.PendingQuery{})
	if err != nil || len(page.Records) != 0 || page.Next != "" {
		t.Fatalf("got %d records, next %q, %v; want none", len(page.Records), page.Next, err)
	}
}

// testPendingOlderThan: only records received before OlderThan are
// listed; one received exactly then is not.
func testPendingOlderThan(t *testing.T, s metadata.Store) {
	rs := seedPending(t, s, 30)
	for _, n := range []int{0, 1, 9, 15, 40} {
		cut := base.Add(time.Duration(n) * time.Second)
		want := expectPending(rs, func(r *metadata.Record) bool { return r.ReceivedAt.Before(cut) })
		got := idsOf(listPending(t, s, metadata.PendingQuery{OlderThan: cut, Limit: 2}))
		if !slices.Equal(got, want) {
			t.Fatalf("older than base+%ds:\n got %v\nwant %v", n, got, want)
		}
	}
}

// testPendingRepository: Repository narrows the listing.
func testPendingRepository(t *testing.T, s metadata.Store) {
	rs := seedPending(t, s, 30)
	want := expectPending(rs, func(r *metadata.Record) bool { return r.Repository == "team/db" })
	if len(want) == 0 {
		t.Fatal("seed holds no pending record of team/db")
	}
	if got := idsOf(listPending(t, s, metadata.PendingQuery{Repository: "team/db", Limit: 1})); !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if got := listPending(t, s, metadata.PendingQuery{Repository: "no/such"}); len(got) != 0 {
		t.Fatalf("%d records of an unknown repository", len(got))
	}
}

// testPendingPaged: at every limit the pages join without skipping or
// repeating; a sweeper that finishes each page before asking for the next
// also sees every pending record exactly once, and leaves none.
func testPendingPaged(t *testing.T, s metadata.Store) {
	rs := seedPending(t, s, 45)
	want := expectPending(rs, func(*metadata.Record) bool { return true })
	for _, limit := range []int{1, 3, 7, 100} {
		if got := idsOf(listPending(t, s, metadata.PendingQuery{Limit: limit})); !slices.Equal(got, want) {
			t.Fatalf("limit %d:\n got %v\nwant %v", limit, got, want)
		}
	}

	byID := map[string]*metadata.Record{}
	for _, r := range rs {
		byID[r.ID] = r
	}
	var swept []string
	q := metadata.PendingQuery{OlderThan: base.Add(time.Hour), Limit: 4}
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("the sweep never ended")
		}
		page, err := s.Pending(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Records) > q.Limit {
			t.Fatalf("page of %d records, limit %d", len(page.Records), q.Limit)
		}
		for _, r := range page.Records {
			finish(t, s, byID[r.ID], metadata.StatusFailed)
			swept = append(swept, r.ID)
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if !slices.Equal(swept, want) {
		t.Fatalf("swept:\n got %v\nwant %v", swept, want)
	}
	if left := listPending(t, s, metadata.PendingQuery{}); len(left) != 0 {
		t.Fatalf("%d records still pending after the sweep", len(left))
	}
}

// testPendingBadQuery: out-of-range limits and malformed cursors are
// ErrInvalid.
func testPendingBadQuery(t *testing.T, s metadata.Store) {
	seedPending(t, s, 3)
	bad := []struct {
		name string
		q    metadata.PendingQuery
	}{
		{"negative limit", metadata.PendingQuery{Limit: -1}},
		{"limit above the maximum", metadata.PendingQuery{Limit: metadata.MaxLimit + 1}},
		{"not base64", metadata.PendingQuery{Cursor: "%%%"}},
		{"not a cursor", metadata.PendingQuery{Cursor: "not-a-cursor"}},
		{"cursor of no id", metadata.PendingQuery{Cursor: metadata.EncodeCursor([]byte("not an id"))}},
		{"cursor too long", metadata.PendingQuery{Cursor: strings.Repeat("A", 5000)}},
	}
	for _, tc := range bad {
		if _, err := s.Pending(context.Background(), tc.q); !isErr(err, metadata.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", tc.name, err)
		}
	}
}

// testPendingCancelled: Pending honours a cancelled context.
func testPendingCancelled(t *testing.T, s metadata.Store) {
	seedPending(t, s, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Pending(ctx, metadata.PendingQuery{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Pending with a cancelled context: got %v", err)
	}
}
