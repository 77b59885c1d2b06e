package metabench

import (
	"fmt"
	"time"

	"github.com/imagegate/imagegate/metadata"
)

// listQuery is one query of the records API on the filled store, with
// what its first page must hold (so that a store answering fast but
// wrongly does not pass).
type listQuery struct {
	name  string
	query metadata.Query
	iters int
	// first is the record number (fillRecord) of the page's first record;
	// want the page's length.
	first, want int
}

// newestWhere returns the largest n < total with keep(n), and how many
// n < total keep.
func newestWhere(total int, keep func(n int) bool) (newest, count int) {
	newest = -1
	for n := range total {
		if keep(n) {
			newest = n
			count++
		}
	}
	return newest, count
}

// queries are the List calls GET /api/v1/pushes makes (api/pushes.go),
// on a store filled with total records; cursor is the next page of the
// large repository's first page.
func queries(total int, cursor string) []listQuery {
	small := "bench/app-007"
	hour := base.Add(time.Duration(total-3600) * time.Second)
	hot, hotCount := newestWhere(total, func(n int) bool { return repoOf(n) == hotRepo })
	smallNewest, smallCount := newestWhere(total, func(n int) bool { return repoOf(n) == small })
	user, userCount := newestWhere(total, func(n int) bool { return userOf(n) == "user-07" })
	_, hourCount := newestWhere(total, func(n int) bool {
		return repoOf(n) == hotRepo && !base.Add(time.Duration(n)*time.Second).Before(hour)
	})
	mid := total / 2
	midDigest := digestOf(fmt.Sprintf("manifest-%d", mid))
	return []listQuery{
		{"newest 50, no filter (admin)", metadata.Query{Limit: 50}, 200, total - 1, min(50, total)},
		{fmt.Sprintf("repository, %d records", hotCount), metadata.Query{Repository: hotRepo, Limit: 50}, 200, hot, min(50, hotCount)},
		{fmt.Sprintf("repository, %d records", smallCount), metadata.Query{Repository: small, Limit: 50}, 200, smallNewest, min(50, smallCount)},
		{fmt.Sprintf("user, %d records", userCount), metadata.Query{User: "user-07", Limit: 50}, 200, user, min(50, userCount)},
		{"digest", metadata.Query{Digest: midDigest, Limit: 50}, 200, mid, 1},
		{"repository + digest", metadata.Query{Repository: repoOf(mid), Digest: midDigest, Limit: 50}, 200, mid, 1},
		{"repository + since (last hour)", metadata.Query{Repository: hotRepo, Since: hour, Limit: 50}, 200, hot, min(50, hourCount)},
		// The 51st newest record of the large repository starts page two.
		{"repository, page 2 (cursor)", metadata.Query{Repository: hotRepo, Limit: 50, Cursor: cursor}, 200, hot - 50*10, min(50, hotCount-50)},
		{"repository, limit 1000", metadata.Query{Repository: hotRepo, Limit: 1000}, 50, hot, min(1000, hotCount)},
	}
}

// check says what is wrong with page as the answer of q, or nil.
func (q listQuery) check(page metadata.Page) error {
	if len(page.Records) != q.want {
		return fmt.Errorf("%d records, want %d", len(page.Records), q.want)
	}
	if got, want := page.Records[0].ID, fillRecord(q.first).ID; got != want {
		return fmt.Errorf("first record %s, want %s (record %d)", got, want, q.first)
	}
	for i := 1; i < len(page.Records); i++ {
		if page.Records[i].ID >= page.Records[i-1].ID {
			return fmt.Errorf("records %d and %d not newest first", i-1, i)
		}
	}
	return nil
}
