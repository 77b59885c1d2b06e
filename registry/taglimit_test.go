package registry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/config"
)

// TestTagsPerRepositoryIsBounded reproduces a tag-list amplification: a
// pusher who pushes a million tags to one repository makes every tag
// list (tags/list, the API, the UI, retention's plan — each reads every
// tag name, one S3 request per 1,000) cost 1,000 S3 requests. With
// limits.tagsperrepository 3, on both drivers: a fourth tag is refused
// (403 DENIED with the limit, the count and what to do) by a PUT by tag,
// by ?tag= on a PUT by digest and by the tarball door; re-pointing an
// existing tag still works, other repositories are unaffected, and
// deleting a tag frees a place. Before, the fourth tag was stored.
func TestTagsPerRepositoryIsBounded(t *testing.T) {
	onEveryDriver(t, "imagegate-taglimit-", func(c *config.Config) { c.Limits.TagsPerRepository = 3 }, func(t *testing.T, s *testServer) {
		first, _ := random.Image(64, 1)
		second, _ := random.Image(64, 1)
		pushTagged(t, s, "lim/app", first, "v1", "v2", "v3")
		raw, _ := first.RawManifest()
		mt, _ := first.MediaType()
		putManifest := func(ref string) (int, []byte) {
			status, _, body := do(t, http.MethodPut, s.base+"/v2/lim/app/manifests/"+ref,
				http.Header{"Content-Type": {string(mt)}}, bytes.NewReader(raw))
			return status, body
		}
		held3 := "repository lim/app holds 3 tags and may hold at most 3 (limits.tagsperrepository): "
		advice := "; pushing to an existing tag still works — delete tags you no longer need (a lifecycle.retention rule can do it) " +
			"or ask the registry's operator to raise the limit"

		status, body := putManifest("v4")
		refusedWith(t, "a new tag by PUT", status, body, held3+`new tag "v4" refused`+advice)
		wantTagLimitDetail(t, body, 4)
		wantTagList(t, s, "lim/app", "v1", "v2", "v3")

		// Re-pointing an existing tag is allowed at the limit.
		ref, _ := name.ParseReference(s.host()+"/lim/app:v1", name.Insecure)
		if err := remote.Write(ref, second); err != nil {
			t.Fatalf("re-pointing v1 at the limit: %v", err)
		}
		if status, hdr, body := do(t, http.MethodHead, s.base+"/v2/lim/app/manifests/v1", manifestAccept, nil); status != http.StatusOK ||
			hdr.Get("Docker-Content-Digest") != mustDigest(t, second) {
			t.Fatalf("v1 after re-pointing: %d %s %s; want %s", status, hdr.Get("Docker-Content-Digest"), body, mustDigest(t, second))
		}
		// An existing tag beside a new one: the new one still counts.
		status, body = putManifest(mustDigest(t, first) + "?" + url.Values{"tag": {"v2", "v5"}}.Encode())
		refusedWith(t, "?tag= with a new tag", status, body, held3+`new tag "v5" refused`)
		// Another repository has its own count.
		pushTagged(t, s, "lim/other", first, "v4")

		// The tarball door refuses the same way, readably.
		var tarBuf bytes.Buffer
		if err := tarball.Write(mustTag(t, "example.com/orig:v0"), second, &tarBuf); err != nil {
			t.Fatal(err)
		}
		status, _, body = do(t, http.MethodPost, s.base+"/upload-image?repository=lim/app&tag=v9", nil, &tarBuf)
		if status != http.StatusForbidden || !strings.Contains(string(body), jsonString(t, held3+`new tag "v9" refused`+advice)) {
			t.Fatalf("tarball door past the tag limit: %d %s", status, body)
		}
		wantTagList(t, s, "lim/app", "v1", "v2", "v3")

		// Deleting a tag frees a place: one new tag fits, two do not.
		deleteRef(t, s, "lim/app", "v3")
		status, body = putManifest(mustDigest(t, first) + "?" + url.Values{"tag": {"v6", "v7"}}.Encode())
		refusedWith(t, "two new tags for one place", status, body,
			`repository lim/app holds 2 tags and may hold at most 3 (limits.tagsperrepository): 2 new tags ("v6", …) refused`)
		wantTagLimitDetail(t, body, 4)
		if status, body := putManifest("v4"); status != http.StatusCreated {
			t.Fatalf("a new tag after a deletion: %d %s", status, body)
		}
		wantTagList(t, s, "lim/app", "v1", "v2", "v4")
	})
}

// wantTagLimitDetail asserts the refusal's detail is the tag limit's.
func wantTagLimitDetail(t *testing.T, body []byte, actual int) {
	t.Helper()
	var env struct {
		Errors []struct {
			Detail struct {
				Limit  string `json:"limit"`
				Max    int    `json:"max"`
				Actual int    `json:"actual"`
			} `json:"detail"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &env); err != nil || len(env.Errors) != 1 {
		t.Fatalf("refusal %s: %v", body, err)
	}
	if d := env.Errors[0].Detail; d.Limit != "tagsperrepository" || d.Max != 3 || d.Actual != actual {
		t.Errorf("detail %+v; want {tagsperrepository 3 %d}", d, actual)
	}
}

// wantTagList asserts repo's tags/list is exactly want.
func wantTagList(t *testing.T, s *testServer, repo string, want ...string) {
	t.Helper()
	status, _, body := do(t, http.MethodGet, s.base+"/v2/"+repo+"/tags/list", nil, nil)
	var list struct{ Tags []string }
	if status != http.StatusOK || json.Unmarshal(body, &list) != nil || !slices.Equal(list.Tags, want) {
		t.Errorf("tags of %s: %d %s; want %q", repo, status, body, want)
	}
}
