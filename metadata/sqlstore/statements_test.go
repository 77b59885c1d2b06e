package sqlstore

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
)

// FuzzStatements: whatever the filters and cursor, List's and Pending's
// statement is either refused as metadata.ErrInvalid or is exactly the
// statement of tame values in the same fields — the input only ever
// travels as arguments — and the arguments carry the filters unchanged.
func FuzzStatements(f *testing.F) {
	cursor := metadata.EncodeCursor([]byte("0190b6c3-1e2a-7b3c-8d4e-5f6a7b8c9d0e"))
	f.Add("team/app", "alice", "", cursor, 10, int64(0))
	f.Add("x' OR '1'='1", "'; DROP TABLE imagegate_records; --", "sha256:"+digest.FromString("a").Encoded(), "", 0, int64(1700000000))
	f.Add("%", "_", "sha256:'", "' OR 1=1 --", -1, int64(-5))
	f.Add("a\x00b", "\xff", "", metadata.EncodeCursor([]byte("not a uuid")), 1001, int64(0))
	f.Fuzz(func(t *testing.T, repo, user, dgst, cur string, limit int, since int64) {
		if len(repo)+len(user)+len(dgst)+len(cur) > 8<<10 {
			return // bounded: longer filters are refused by length alone
		}
		for _, d := range []*Dialect{postgres, mysql} {
			s := &Store{d: d, retention: 48 * time.Hour, now: time.Now}
			var at time.Time
			if since != 0 {
				at = time.Unix(since%(1<<40), 0)
			}
			q := metadata.Query{Repository: repo, User: user, Digest: digest.Digest(dgst), Cursor: cur, Limit: limit, Since: at}
			st, err := s.listStatement(q)
			if err != nil {
				if !errors.Is(err, metadata.ErrInvalid) {
					t.Fatalf("list %+v: %v is not ErrInvalid", q, err)
				}
			} else {
				tame := q
				tame.Repository, tame.User = tameValue(q.Repository, "r"), tameValue(q.User, "u")
				tame.Digest = digest.Digest(tameValue(string(q.Digest), digest.FromString("t").String()))
				tame.Cursor = tameValue(q.Cursor, cursor)
				want, err := s.listStatement(tame)
				if err != nil || want.query != st.query {
					t.Fatalf("list statement of %+v:\n%s\nof tame values:\n%s (%v)", q, st.query, want.query, err)
				}
				checkArgs(t, st.args, listFilters(repo, user, dgst)...)
			}
			pq := metadata.PendingQuery{Repository: repo, Cursor: cur, Limit: limit, OlderThan: at}
			pst, err := s.pendingStatement(pq)
			if err != nil {
				if !errors.Is(err, metadata.ErrInvalid) {
					t.Fatalf("pending %+v: %v is not ErrInvalid", pq, err)
				}
				continue
			}
			tame := pq
			tame.Repository, tame.Cursor = tameValue(pq.Repository, "r"), tameValue(pq.Cursor, cursor)
			if want, err := s.pendingStatement(tame); err != nil || want.query != pst.query {
				t.Fatalf("pending statement of %+v:\n%s\nof tame values:\n%s (%v)", pq, pst.query, want.query, err)
			}
			if repo != "" {
				checkArgs(t, pst.args, repo)
			}
		}
	})
}

// tameValue is tame when v is set, "" otherwise.
func tameValue(v, tame string) string {
	if v == "" {
		return ""
	}
	return tame
}

// checkArgs fails unless every value of want is among args, unchanged.
func checkArgs(t *testing.T, args []any, want ...string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(args, any(w)) {
			t.Fatalf("filter %q is not among the arguments %q", w, args)
		}
	}
}

// listFilters are the filters List's statement must carry: the digest
// (and repository), else the repository, else the user — one index.
func listFilters(repo, user, dgst string) []string {
	switch {
	case dgst != "" && repo != "":
		return []string{dgst, repo}
	case dgst != "":
		return []string{dgst}
	case repo != "":
		return []string{repo}
	case user != "":
		return []string{user}
	}
	return nil
}

// TestListNamesItsIndex: on MySQL a filtered List forces the index of its
// filter (MariaDB otherwise read 40,051 rows for one page deep into a
// large repository); PostgreSQL's statement carries no hint.
func TestListNamesItsIndex(t *testing.T) {
	d := digest.FromString("x")
	for _, tc := range []struct {
		q     metadata.Query
		index string
	}{
		{metadata.Query{Repository: "team/app"}, indexRepository},
		{metadata.Query{User: "alice"}, indexUser},
		{metadata.Query{Digest: d, Repository: "team/app"}, indexDigest},
		{metadata.Query{}, ""},
	} {
		for _, dialect := range []*Dialect{postgres, mysql} {
			s := &Store{d: dialect, now: time.Now}
			st, err := s.listStatement(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			want := ""
			if dialect == mysql && tc.index != "" {
				want = "FROM " + tableRecords + " FORCE INDEX (" + tc.index + ") WHERE"
			}
			hinted := strings.Contains(st.query, "INDEX (")
			if (want == "" && hinted) || (want != "" && !strings.Contains(st.query, want)) {
				t.Errorf("%s %+v: %s\nwant it to contain %q", dialect.Name(), tc.q, st.query, want)
			}
		}
	}
}
