package registry

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestAPIRepositoriesAndTags: GET /api/v1/repositories reads distribution's
// storage (an empty registry lists nothing, without error) and pages by
// last; …/{name}/tags names each tag's manifest.
func TestAPIRepositoriesAndTags(t *testing.T) {
	s := startServer(t, nil)
	list := func(path string) (names []string, next string) {
		t.Helper()
		status, _, body := do(t, "GET", s.base+path, nil, nil)
		var page struct {
			Repositories []string `json:"repositories"`
			NextLast     string   `json:"next_last"`
		}
		if status != 200 || json.Unmarshal(body, &page) != nil {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		return page.Repositories, page.NextLast
	}
	if names, next := list("/api/v1/repositories"); len(names) != 0 || next != "" {
		t.Fatalf("empty registry: %q next %q", names, next)
	}
	ds := pushN(t, s, "cat/b", "v1", 1)
	pushN(t, s, "cat/a", "v1", 1)
	pushN(t, s, "cat/c", "v1", 1)
	names, next := list("/api/v1/repositories?limit=2")
	if !slices.Equal(names, []string{"cat/a", "cat/b"}) || next != "cat/b" {
		t.Fatalf("first page %q next %q", names, next)
	}
	if names, next = list("/api/v1/repositories?limit=2&last=" + next); !slices.Equal(names, []string{"cat/c"}) || next != "" {
		t.Fatalf("last page %q next %q", names, next)
	}
	status, _, body := do(t, "GET", s.base+"/api/v1/repositories/cat/b/tags", nil, nil)
	var tags struct {
		Tags []struct{ Name, Digest string } `json:"tags"`
	}
	if status != 200 || json.Unmarshal(body, &tags) != nil || len(tags.Tags) != 1 ||
		tags.Tags[0].Name != "v1" || tags.Tags[0].Digest != ds[0].String() {
		t.Fatalf("tags: %d %s", status, body)
	}
	status, _, body = do(t, "GET", s.base+"/api/v1/repositories/cat/none/tags", nil, nil)
	if status != 200 || !strings.Contains(string(body), `"tags": []`) {
		t.Fatalf("tags of a repository with none: %d %s", status, body)
	}
}
