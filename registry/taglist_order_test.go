package registry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

// orderTags are tag names whose S3 key order differs from their lexical
// order: '-' and '.' sort before '/', so "v1.0/…" and "v1-rc/…" are listed
// before "v1/…", and "1.0.1/…" before "1.0/…".
var orderTags = []string{"1.0", "1.0.1", "1.0-alpine", "V1", "v1", "v1-rc", "v1.0", "v10", "v1_x"}

// TestTagListPagesInLexicalOrder reproduces tags lost on S3: distribution's
// tags/list pages by comparing names with the last one answered while the
// S3 walk visits them in key order, so with n=1 the page that ended at
// "v1-rc" went on after it and "v1" (listed later by S3) was never
// answered — the list following the Links lacked "1.0" and "v1", and came
// out of order. On both drivers every n must list every tag once, in
// lexical order (the distribution spec's order).
func TestTagListPagesInLexicalOrder(t *testing.T) {
	onEveryDriver(t, "imagegate-taglist-", nil, func(t *testing.T, s *testServer) {
		const repo = "order/app"
		img, _ := random.Image(64, 1)
		pushTagged(t, s, repo, img, orderTags...)
		want := slices.Sorted(slices.Values(orderTags))
		for _, n := range []int{1, 2, 3, 100} {
			got := followTagLinks(t, s, "/v2/"+repo+"/tags/list?n="+strconv.Itoa(n), len(want))
			if !slices.Equal(got, want) {
				t.Errorf("n=%d: following the Links listed %q; want %q", n, got, want)
			}
		}
		if got := followTagLinks(t, s, "/v2/"+repo+"/tags/list?n=2&last=v1", len(want)); !slices.Equal(got, []string{"v1-rc", "v1.0", "v10", "v1_x"}) {
			t.Errorf("after last=v1: %q", got)
		}
		for _, limit := range []int{1, 4, 10000} {
			if got := followAPITags(t, s, repo, limit, len(want)); !slices.Equal(got, want) {
				t.Errorf("API limit=%d: following next_last listed %q; want %q", limit, got, want)
			}
		}
	})
}

// TestAPITagsPageParameters: the API's tag list refuses a limit out of
// 1–10,000 and a last that is no tag, naming the parameter.
func TestAPITagsPageParameters(t *testing.T) {
	s := startServer(t, nil)
	pushN(t, s, "params/app", "v1", 1)
	for query, want := range map[string]string{
		"limit=0":         `"QUERY_INVALID"`,
		"limit=10001":     `"QUERY_INVALID"`,
		"limit=x":         `"QUERY_INVALID"`,
		"last=-v1":        `"TAG_INVALID"`,
		"last=a%2Fb":      `"TAG_INVALID"`,
		"n=2":             `"QUERY_INVALID"`,
		"last=v1&last=v2": `"QUERY_INVALID"`,
	} {
		status, _, body := do(t, http.MethodGet, s.base+"/api/v1/repositories/params/app/tags?"+query, nil, nil)
		if status != http.StatusBadRequest || !bytes.Contains(body, []byte(want)) {
			t.Errorf("?%s: %d %s; want 400 %s", query, status, body, want)
		}
	}
	status, _, body := do(t, http.MethodGet, s.base+"/api/v1/repositories/params/app/tags?last=v1&limit=1", nil, nil)
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"tags": []`)) || bytes.Contains(body, []byte("next_last")) {
		t.Errorf("the page after the last tag: %d %s; want 200 with no tags and no next_last", status, body)
	}
}

// followAPITags pages GET /api/v1/repositories/{repo}/tags by next_last
// and returns the tag names answered, in order.
func followAPITags(t *testing.T, s *testServer, repo string, limit, maxPages int) []string {
	t.Helper()
	var got []string
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	for pages := 0; ; pages++ {
		if pages > maxPages {
			t.Fatalf("paging the API's tags of %s: more pages than tags", repo)
		}
		path := "/api/v1/repositories/" + repo + "/tags?" + q.Encode()
		status, _, body := do(t, http.MethodGet, s.base+path, nil, nil)
		var page struct {
			Tags     []struct{ Name string } `json:"tags"`
			NextLast string                  `json:"next_last"`
		}
		if status != http.StatusOK || json.Unmarshal(body, &page) != nil {
			t.Fatalf("GET %s: %d %.200s", path, status, body)
		}
		for _, tag := range page.Tags {
			got = append(got, tag.Name)
		}
		if page.NextLast == "" {
			return got
		}
		q.Set("last", page.NextLast)
	}
}

// followTagLinks GETs start and the Links after it, and returns the tags
// listed, in the order answered; it fails after more pages than max tags.
func followTagLinks(t *testing.T, s *testServer, start string, maxPages int) []string {
	t.Helper()
	var got []string
	for next, pages := start, 0; next != ""; pages++ {
		if pages > maxPages {
			t.Fatalf("following %s: more pages than tags", start)
		}
		status, hdr, body := do(t, http.MethodGet, s.base+next, nil, nil)
		var list struct{ Tags []string }
		if status != http.StatusOK || json.Unmarshal(body, &list) != nil {
			t.Fatalf("GET %s: %d %.200s", next, status, body)
		}
		got = append(got, list.Tags...)
		next = linkTarget(hdr.Get("Link"))
	}
	return got
}
