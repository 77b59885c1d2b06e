package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
)

// hostile are values that would change a statement built from text: SQL
// quotes and comments of both dialects, LIKE wildcards, backslashes.
var hostile = []string{
	`x' OR '1'='1`,
	`x'; DROP TABLE imagegate_records; --`,
	"x`; DROP DATABASE mysql; #",
	`x" OR ""="`,
	`%`, `_`, `x\'`, `x\\`,
	`x' UNION SELECT id, status, reason, committed_at, body_sum, encoding, body FROM imagegate_records --`,
	`$1`, `?`,
}

// TestInjection: every text parameter of the API (record fields, ids,
// filters, cursors) reaches the database as a value: hostile values are
// stored and read back verbatim, match only themselves, and change no
// other row or table.
func TestInjection(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		s := newStore(t, driver)
		ctx := t.Context()
		plain := &metadata.Record{ID: metadata.NewID(), Kind: metadata.KindPush, Repository: "team/app",
			User: metadata.User{Subject: "alice"}, Digest: digest.FromString("plain"), Status: metadata.StatusPending}
		if err := s.Put(ctx, plain); err != nil {
			t.Fatal(err)
		}
		var bad []*metadata.Record
		for _, v := range hostile {
			r := &metadata.Record{ID: metadata.NewID(), Kind: metadata.KindPush, Repository: v, User: metadata.User{Subject: v},
				Digest: digest.FromString(v), Status: metadata.StatusPending, Reason: v, ReceivedAt: time.Now().UTC()}
			if err := s.Put(ctx, r); err != nil {
				t.Fatalf("Put %q: %v", v, err)
			}
			bad = append(bad, r)
		}
		for _, r := range bad {
			v := r.Repository
			got, err := s.Get(ctx, r.ID)
			if err != nil || got.Repository != v || got.User.Subject != v || got.Reason != v {
				t.Fatalf("Get of the %q record: %+v, %v", v, got, err)
			}
			for _, q := range []metadata.Query{{Repository: v}, {User: v}, {Digest: r.Digest, Repository: v}} {
				page, err := s.List(ctx, q)
				if err != nil || len(page.Records) != 1 || page.Records[0].ID != r.ID {
					t.Fatalf("List %+v: %d records, %v; want only its own", q, len(page.Records), err)
				}
			}
			page, err := s.Pending(ctx, metadata.PendingQuery{Repository: v})
			if err != nil || len(page.Records) != 1 || page.Records[0].ID != r.ID {
				t.Fatalf("Pending of %q: %d records, %v", v, len(page.Records), err)
			}
			if _, err := s.Get(ctx, v); !errors.Is(err, metadata.ErrNotFound) {
				t.Fatalf("Get id %q: got %v, want ErrNotFound", v, err)
			}
			if err := s.Finish(ctx, v, metadata.Finish{Status: metadata.StatusAccepted}); !errors.Is(err, metadata.ErrNotFound) {
				t.Fatalf("Finish id %q: got %v, want ErrNotFound", v, err)
			}
			if _, err := s.List(ctx, metadata.Query{Cursor: metadata.EncodeCursor([]byte(v))}); !errors.Is(err, metadata.ErrInvalid) {
				t.Fatalf("cursor of %q: got %v, want ErrInvalid", v, err)
			}
		}
		all := listIDs(t, s, metadata.Query{Limit: metadata.MaxLimit})
		if len(all) != len(hostile)+1 || !slices.Contains(all, plain.ID) {
			t.Fatalf("%d records after the hostile calls, want %d", len(all), len(hostile)+1)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping after the hostile calls: %v", err)
		}
	})
}

// TestHostileQueries: filters and cursors no record can match — too long,
// not UTF-8, NUL bytes, malformed or forged cursors — are ErrInvalid
// before any SQL runs; none is an unavailable store.
func TestHostileQueries(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		s := newStore(t, driver)
		ctx := t.Context()
		huge := strings.Repeat("a", 1<<20)
		cursors := []string{"'", "%27%20OR%201%3D1", strings.Repeat("A", 4096), metadata.EncodeCursor([]byte("' OR 1=1 --")),
			metadata.EncodeCursor([]byte(strings.Repeat("f", 36))), metadata.EncodeCursor([]byte("0190b6c3-1e2a-7b3c-8d4e-5f6a7b8c9d0\x00"))}
		queries := []metadata.Query{{Repository: huge}, {User: huge}, {Repository: "a\xff"}, {User: "a\x00b"}, {Digest: "sha256:' OR 1=1"}}
		for _, c := range cursors {
			queries = append(queries, metadata.Query{Cursor: c})
		}
		for _, q := range queries {
			if _, err := s.List(ctx, q); !errors.Is(err, metadata.ErrInvalid) || errors.Is(err, metadata.ErrUnavailable) {
				t.Errorf("List %.80s: got %v, want ErrInvalid", fmt.Sprintf("%+v", q), err)
			}
		}
		pq := []metadata.PendingQuery{{Repository: huge}, {Repository: "\xc3"}}
		for _, c := range cursors {
			pq = append(pq, metadata.PendingQuery{Cursor: c})
		}
		for _, q := range pq {
			if _, err := s.Pending(ctx, q); !errors.Is(err, metadata.ErrInvalid) {
				t.Errorf("Pending %.80s: got %v, want ErrInvalid", fmt.Sprintf("%+v", q), err)
			}
		}
		for _, id := range []string{huge, "a\xff", "a\x00"} {
			if _, err := s.Get(ctx, id); !errors.Is(err, metadata.ErrInvalid) {
				t.Errorf("Get %.20q: got %v, want ErrInvalid", id, err)
			}
		}
		r := &metadata.Record{ID: metadata.NewID(), Kind: metadata.KindPush, Repository: huge, Status: metadata.StatusAccepted}
		if err := s.Put(ctx, r); !errors.Is(err, metadata.ErrInvalid) {
			t.Errorf("Put of a 1 MiB repository: got %v, want ErrInvalid", err)
		}
	})
}

// listIDs pages through q and returns the ids.
func listIDs(t *testing.T, s interface {
	List(context.Context, metadata.Query) (metadata.Page, error)
}, q metadata.Query) []string {
	t.Helper()
	var ids []string
	for {
		page, err := s.List(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Records {
			ids = append(ids, r.ID)
		}
		if page.Next == "" {
			return ids
		}
		q.Cursor = page.Next
	}
}
