package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata/bolt"
)

// fakeCatalog lists names (sorted) as distribution does: n after last.
type fakeCatalog struct {
	names []string
	tags  map[string][]Tag
}

func (f fakeCatalog) Repositories(_ context.Context, last string, n int) ([]string, bool, error) {
	i, _ := slices.BinarySearch(f.names, last)
	if i < len(f.names) && f.names[i] == last {
		i++
	}
	end := min(i+n, len(f.names))
	return f.names[i:end], end < len(f.names), nil
}

func (f fakeCatalog) Tags(_ context.Context, repo, _ string, _ int) ([]Tag, bool, error) {
	return f.tags[repo], false, nil
}

// TestRepositoriesEndpoint: GET /api/v1/repositories lists only what the
// caller may pull, a page at a time; tags need pull on their repository;
// ServeAs judges the caller it is given, not the request's headers.
func TestRepositoriesEndpoint(t *testing.T) {
	store, err := bolt.Open(filepath.Join(t.TempDir(), "m.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cat := fakeCatalog{names: []string{"a/x", "team/a", "team/b", "z/q"},
		tags: map[string][]Tag{"team/b": {{Name: "1.0", Digest: digest.FromString("m")}}}}
	a := New(store, Options{Auth: testAuth{}, Catalog: cat}, slog.New(slog.DiscardHandler))
	get := func(path string, admin bool, pull string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if admin {
			req.Header.Set("X-Test-Admin", "1")
		}
		req.Header.Set("X-Test-Pull", pull)
		w := httptest.NewRecorder()
		a.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	page := func(body string) repositoriesPage {
		var p repositoriesPage
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return p
	}
	status, body := get("/api/v1/repositories?limit=2", true, "")
	if p := page(body); status != 200 || !slices.Equal(p.Repositories, []string{"a/x", "team/a"}) || p.NextLast != "team/a" {
		t.Fatalf("admin, first page: %d %s", status, body)
	}
	status, body = get("/api/v1/repositories?limit=2&last=team/a", true, "")
	if p := page(body); status != 200 || !slices.Equal(p.Repositories, []string{"team/b", "z/q"}) || p.NextLast != "" {
		t.Fatalf("admin, last page: %d %s", status, body)
	}
	status, body = get("/api/v1/repositories", false, "team/b")
	if p := page(body); status != 200 || !slices.Equal(p.Repositories, []string{"team/b"}) || p.NextLast != "" {
		t.Fatalf("a caller who may pull team/b only: %d %s", status, body)
	}
	// A cursor may name a repository stored before names were checked
	// with reponame (upper case): paging goes on past it; addressing it
	// is refused.
	status, body = get("/api/v1/repositories?last=Legacy/app", true, "")
	if p := page(body); status != 200 || len(p.Repositories) != 4 {
		t.Fatalf("admin, paging past a legacy name: %d %s", status, body)
	}
	for path, code := range map[string]string{
		"/api/v1/repositories/Legacy/app/tags": "NAME_INVALID",
		"/api/v1/repositories?last=Bad//Name":  "NAME_INVALID",
		"/api/v1/repositories?limit=0":         "QUERY_INVALID",
		"/api/v1/repositories?n=5":             "QUERY_INVALID",
		"/api/v1/repositories/team/b/tags?x=":  "QUERY_INVALID",
		"/api/v1/repositories/Bad/tags":        "NAME_INVALID",
	} {
		if status, body := get(path, true, ""); status != 400 || !strings.Contains(body, code) {
			t.Errorf("%s: %d %s, want 400 %s", path, status, body, code)
		}
	}
	status, body = get("/api/v1/repositories/team/b/tags", false, "team/b")
	var tags tagsPage
	if err := json.Unmarshal([]byte(body), &tags); status != 200 || err != nil || len(tags.Tags) != 1 || tags.Tags[0].Name != "1.0" {
		t.Fatalf("tags: %d %s", status, body)
	}
	if status, body := get("/api/v1/repositories/team/b/tags", false, "team/a"); status != 403 || strings.Contains(body, "1.0") {
		t.Fatalf("tags without pull: %d %s", status, body)
	}
	// ServeAs: the header would make an admin, the given caller decides.
	req := httptest.NewRequest(http.MethodGet, "/api/v1/repositories", nil)
	req.Header.Set("X-Test-Admin", "1")
	w := httptest.NewRecorder()
	a.ServeAs(w, req, testCaller{pull: "team/a"})
	if p := page(w.Body.String()); w.Code != 200 || !slices.Equal(p.Repositories, []string{"team/a"}) {
		t.Fatalf("ServeAs: %d %s", w.Code, w.Body.String())
	}
}
