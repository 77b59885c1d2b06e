package registry

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestCatalogPagesListEachRepositoryOnce: names that differ only by '-',
// '.', '_' and '/' walk in different orders on the filesystem (by path
// component) and on S3 (by key: "p-a/…" before "p/…"), the order the tag
// list lost tags in (TestTagListPagesInLexicalOrder). The catalog pages by
// the storage's own order (distribution resumes the walk after the last
// name's key), so /v2/_catalog and /api/v1/repositories list every
// repository exactly once for every page size, on both drivers.
func TestCatalogPagesListEachRepositoryOnce(t *testing.T) {
	var repos []string
	for _, r := range []string{"p", "p-a", "p.a", "p/a", "p/a-b", "p/a.b", "p/a/b", "p/a/b-c", "p/a/b.c", "p/a0", "p-a/b", "p.a/b", "p_a", "p_a/b", "p0"} {
		repos = append(repos, "order/"+r)
	}
	want := slices.Sorted(slices.Values(repos))
	onEveryDriver(t, "imagegate-catalog-", nil, func(t *testing.T, s *testServer) {
		img, _ := random.Image(64, 1)
		for _, r := range repos {
			ref, _ := name.ParseReference(s.host()+"/"+r+":v1", name.Insecure)
			if err := remote.Write(ref, img); err != nil {
				t.Fatal(err)
			}
		}
		for n := 1; n <= 4; n++ {
			if got := followCatalogLinks(t, s, n, len(repos)); !slices.Equal(slices.Sorted(slices.Values(got)), want) {
				t.Errorf("/v2/_catalog n=%d: following the Links listed %q", n, got)
			}
			if got := followAPIRepositories(t, s, n, len(repos)); !slices.Equal(slices.Sorted(slices.Values(got)), want) {
				t.Errorf("/api/v1/repositories limit=%d: following next_last listed %q", n, got)
			}
		}
	})
}

// followCatalogLinks lists /v2/_catalog n at a time by its Links.
func followCatalogLinks(t *testing.T, s *testServer, n, maxPages int) []string {
	t.Helper()
	var got []string
	for next, pages := "/v2/_catalog?n="+strconv.Itoa(n), 0; next != ""; pages++ {
		if pages > maxPages {
			t.Fatal("the catalog has more pages than repositories")
		}
		status, hdr, body := do(t, http.MethodGet, s.base+next, nil, nil)
		var page struct{ Repositories []string }
		if status != http.StatusOK || json.Unmarshal(body, &page) != nil {
			t.Fatalf("GET %s: %d %.200s", next, status, body)
		}
		got = append(got, page.Repositories...)
		next = linkTarget(hdr.Get("Link"))
	}
	return got
}

// followAPIRepositories lists /api/v1/repositories limit at a time by
// next_last.
func followAPIRepositories(t *testing.T, s *testServer, limit, maxPages int) []string {
	t.Helper()
	var got []string
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	for pages := 0; ; pages++ {
		if pages > maxPages {
			t.Fatal("the API's repository list has more pages than repositories")
		}
		status, _, body := do(t, http.MethodGet, s.base+"/api/v1/repositories?"+q.Encode(), nil, nil)
		var page struct {
			Repositories []string `json:"repositories"`
			NextLast     string   `json:"next_last"`
		}
		if status != http.StatusOK || json.Unmarshal(body, &page) != nil {
			t.Fatalf("GET /api/v1/repositories?%s: %d %.200s", q.Encode(), status, body)
		}
		got = append(got, page.Repositories...)
		if page.NextLast == "" {
			return got
		}
		q.Set("last", page.NextLast)
	}
}
