package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/bolt"
)

// testAuth authenticates by header: "X-Test-Admin: 1" is an admin, and
// "X-Test-Pull: repo" may pull repo. Every caller is complete, so
// refusals answer 403.
type testAuth struct{}

func (testAuth) Authenticate(_ http.ResponseWriter, r *http.Request) (Caller, bool) {
	return testCaller{admin: r.Header.Get("X-Test-Admin") == "1", pull: r.Header.Get("X-Test-Pull")}, true
}

func (testAuth) Challenge(w http.ResponseWriter, _ *http.Request, _ string, e errcode.Error) {
	errcodes.Serve(w, e)
}

type testCaller struct {
	admin bool
	pull  string
}

func (c testCaller) Subject() string { return "tester" }
func (c testCaller) May(repo, action string) bool {
	return c.admin || (c.pull == repo && action == "pull")
}
func (c testCaller) Admin() bool    { return c.admin }
func (c testCaller) Complete() bool { return true }

// pendingFixture is an API over a bolt store holding, received one
// minute apart from base: pending records of team/a (0, 2, 4) and team/b
// (1), an accepted one of team/a (3) and one of team/a put pending then
// finished (5).
type pendingFixture struct {
	server *httptest.Server
	base   time.Time
	ids    []string
}

func newPendingFixture(t *testing.T) *pendingFixture {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "metadata.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &pendingFixture{base: time.Now().Add(-time.Hour).Truncate(time.Minute)}
	repos := []string{"team/a", "team/b", "team/a", "team/a", "team/a", "team/a"}
	ctx := context.Background()
	for i, repo := range repos {
		at := f.base.Add(time.Duration(i) * time.Minute)
		r := &metadata.Record{
			ID: idAt(at), Kind: metadata.KindPush, Repository: repo, ReceivedAt: at,
			ClientIP: "192.0.2.7", Status: metadata.StatusPending,
		}
		if i == 3 {
			r.Status = metadata.StatusAccepted
		}
		if err := s.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
		f.ids = append(f.ids, r.ID)
	}
	if err := s.Finish(ctx, f.ids[5], metadata.Finish{Status: metadata.StatusFailed, Reason: "x", CommittedAt: f.base}); err != nil {
		t.Fatal(err)
	}
	a := New(s, Options{Auth: testAuth{}}, slog.New(slog.DiscardHandler))
	f.server = httptest.NewServer(a)
	t.Cleanup(f.server.Close)
	return f
}

// idAt is a record id received at at (a UUIDv7 of that millisecond).
func idAt(at time.Time) string {
	return metadata.IDFloor(at)[:24] + "000000000001"
}

// get requests path with the headers; it returns the status, the Link
// header, the listed records and the body.
func (f *pendingFixture) get(t *testing.T, path string, headers map[string]string) (int, string, []metadata.Record, string) {
	t.Helper()
	req, err := http.NewRequest("GET", f.server.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Records []metadata.Record `json:"records"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	return resp.StatusCode, resp.Header.Get("Link"), page.Records, string(body)
}

func TestListPending(t *testing.T) {
	f := newPendingFixture(t)
	admin := map[string]string{"X-Test-Admin": "1"}
	pullerA := map[string]string{"X-Test-Pull": "team/a"}
	before := url.QueryEscape(f.base.Add(3 * time.Minute).Format(time.RFC3339))
	tests := []struct {
		name    string
		path    string
		headers map[string]string
		status  int
		want    []int // indexes into f.ids, in order
		code    string
	}{
		{"all, admin", "?status=pending", admin, 200, []int{0, 1, 2, 4}, ""},
		{"all, not admin", "?status=pending", pullerA, 403, nil, ""},
		{"repository, puller", "?status=pending&repository=team/a", pullerA, 200, []int{0, 2, 4}, ""},
		{"repository, not a puller", "?status=pending&repository=team/b", pullerA, 403, nil, ""},
		{"before", "?status=pending&before=" + before, admin, 200, []int{0, 1, 2}, ""},
		{"repository and before", "?status=pending&repository=team/a&before=" + before, pullerA, 200, []int{0, 2}, ""},
		{"unknown status", "?status=stuck", admin, 400, nil, "QUERY_INVALID"},
		{"final status", "?status=accepted", admin, 400, nil, "QUERY_INVALID"},
		{"with user", "?status=pending&user=alice", admin, 400, nil, "QUERY_INVALID"},
		{"with digest", "?status=pending&digest=sha256:" + strings.Repeat("0", 64), admin, 400, nil, "QUERY_INVALID"},
		{"with since", "?status=pending&since=2026-01-01T00:00:00Z", admin, 400, nil, "QUERY_INVALID"},
		{"bad before", "?status=pending&before=yesterday", admin, 400, nil, "QUERY_INVALID"},
		{"before without status", "?before=2026-01-01T00:00:00Z", admin, 400, nil, "QUERY_INVALID"},
		{"limit 0", "?status=pending&limit=0", admin, 400, nil, "QUERY_INVALID"},
		{"bad cursor", "?status=pending&cursor=%25%25", admin, 400, nil, "QUERY_INVALID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, records, body := f.get(t, "/api/v1/pushes"+tc.path, tc.headers)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.code != "" {
				var e struct{ Errors []struct{ Code string } }
				if err := json.Unmarshal([]byte(body), &e); err != nil || len(e.Errors) != 1 || e.Errors[0].Code != tc.code {
					t.Fatalf("want one error %s: %s", tc.code, body)
				}
			}
			if status != 200 {
				return
			}
			var got, want []string
			for _, r := range records {
				got = append(got, r.ID)
				if r.Status != metadata.StatusPending {
					t.Errorf("record %s is %s", r.ID, r.Status)
				}
				if admin := tc.headers["X-Test-Admin"] == "1"; (r.ClientIP != "") != admin {
					t.Errorf("record %s: client IP %q shown to admin=%v", r.ID, r.ClientIP, admin)
				}
			}
			for _, i := range tc.want {
				want = append(want, f.ids[i])
			}
			if !slices.Equal(got, want) {
				t.Fatalf("records\n got %v\nwant %v", got, want)
			}
		})
	}
}

// TestListPendingPaged: the Link header leads through every pending
// record, oldest first, one per page, keeping status=pending.
func TestListPendingPaged(t *testing.T) {
	f := newPendingFixture(t)
	admin := map[string]string{"X-Test-Admin": "1"}
	var got []string
	next := "/api/v1/pushes?status=pending&limit=1"
	for pages := 0; next != ""; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		status, link, records, body := f.get(t, next, admin)
		if status != 200 || len(records) > 1 {
			t.Fatalf("%s: %d, %d records: %s", next, status, len(records), body)
		}
		for _, r := range records {
			got = append(got, r.ID)
		}
		next = ""
		if link != "" {
			next = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
			if !strings.Contains(next, "status=pending") {
				t.Fatalf("Link %q lost status=pending", link)
			}
		}
	}
	if want := []string{f.ids[0], f.ids[1], f.ids[2], f.ids[4]}; !slices.Equal(got, want) {
		t.Fatalf("paged\n got %v\nwant %v", got, want)
	}
}
