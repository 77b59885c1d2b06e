package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestTagListWithoutNIsPaged reproduces an unbounded answer (red-team
// review of 2026-12-04): a pusher tags one image many times (100 tags per
// ?tag= request, each a cheap gated push of an accepted image), then
// anyone who may pull asks GET /v2/<name>/tags/list without n.
// distribution clamps n to tags.maxtags only when n is given; without it
// it walked the whole tags directory and answered every tag in one body
// (before the fix: 1,050 names, no Link). Now the answer is one page of
// tagListPage names with a Link to the next, and following the Links
// lists every tag once — what crane, skopeo and containerd do.
// tagsPerPut is the most ?tag= parameters one PUT may carry (push.maxTagParams).
const tagsPerPut = 100

func TestTagListWithoutNIsPaged(t *testing.T) {
	s := startServer(t, nil)
	const repo, total = "big/tags", tagListPage + 50
	ref, _ := name.ParseReference(s.host()+"/"+repo+":t0000", name.Insecure)
	img, _ := random.Image(64, 1)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	h := http.Header{"Content-Type": {string(mt)}}
	for first := 1; first < total; first += tagsPerPut {
		q := url.Values{}
		for i := first; i < min(first+tagsPerPut, total); i++ {
			q.Add("tag", fmt.Sprintf("t%04d", i))
		}
		status, _, body := do(t, http.MethodPut, s.base+"/v2/"+repo+"/manifests/"+mustDigest(t, img)+"?"+q.Encode(), h, bytes.NewReader(raw))
		if status != http.StatusCreated {
			t.Fatalf("tagging from t%04d: %d %s", first, status, body)
		}
	}

	seen := map[string]bool{}
	next := "/v2/" + repo + "/tags/list"
	for pages := 0; next != ""; pages++ {
		if pages > 2 {
			t.Fatalf("more pages than %d tags need", total)
		}
		status, hdr, body := do(t, http.MethodGet, s.base+next, nil, nil)
		var list struct{ Tags []string }
		if status != http.StatusOK || json.Unmarshal(body, &list) != nil {
			t.Fatalf("GET %s: %d %.200s", next, status, body)
		}
		if len(list.Tags) > tagListPage {
			t.Fatalf("GET %s answered %d tags in one body; at most %d expected with a Link", next, len(list.Tags), tagListPage)
		}
		for _, tag := range list.Tags {
			if seen[tag] {
				t.Fatalf("tag %s listed twice", tag)
			}
			seen[tag] = true
		}
		next = linkTarget(hdr.Get("Link"))
		if pages == 0 && next == "" {
			t.Fatal("first page of a long list has no Link")
		}
	}
	if len(seen) != total {
		t.Fatalf("following the Links listed %d tags, want %d", len(seen), total)
	}
}

// linkTarget is the path and query of a Link header's next page ("" when
// there is none).
func linkTarget(link string) string {
	start, end := strings.Index(link, "<"), strings.Index(link, ">")
	if start < 0 || end < start {
		return ""
	}
	return link[start+1 : end]
}
