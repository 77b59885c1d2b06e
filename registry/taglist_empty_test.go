package registry

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

// TestTagListWithoutTagsIsAlikeOnEveryDriver: a repository that holds a
// manifest but no tag lists no tags (200, "tags": []); one whose every
// manifest was deleted is unknown (404 NAME_UNKNOWN) — on both drivers.
// Before, the answer was the tags directory's: on S3, which has no
// directories, deleting the last tag made a repository still holding
// manifests (and listed by the catalog) unknown, while the filesystem
// kept listing an empty repository whose every manifest was gone.
func TestTagListWithoutTagsIsAlikeOnEveryDriver(t *testing.T) {
	onEveryDriver(t, "imagegate-notags-", nil, func(t *testing.T, s *testServer) {
		tagged, _ := random.Image(64, 1)
		untagged, _ := random.Image(64, 1)
		pushTagged(t, s, "notags/app", tagged, "v1")
		ociPushByDigest(t, s.host()+"/notags/app", untagged)
		ociPushByDigest(t, s.host()+"/notags/bydigest", untagged)

		wantTags := func(repo string, want []string) {
			t.Helper()
			status, _, body := do(t, http.MethodGet, s.base+"/v2/"+repo+"/tags/list", nil, nil)
			var list struct{ Tags []string }
			if status != http.StatusOK || json.Unmarshal(body, &list) != nil || list.Tags == nil || !slices.Equal(list.Tags, want) {
				t.Errorf("tags of %s: %d %s; want 200 with tags %q", repo, status, body, want)
			}
		}
		wantUnknown := func(repo string) {
			t.Helper()
			status, _, body := do(t, http.MethodGet, s.base+"/v2/"+repo+"/tags/list", nil, nil)
			if status != http.StatusNotFound || !slices.Equal(ociErrorCodes(t, body), []string{"NAME_UNKNOWN"}) {
				t.Errorf("tags of %s: %d %s; want 404 NAME_UNKNOWN", repo, status, body)
			}
		}
		wantTags("notags/bydigest", []string{})
		deleteRef(t, s, "notags/app", "v1")
		wantTags("notags/app", []string{}) // S3 answered 404 NAME_UNKNOWN
		deleteRef(t, s, "notags/app", mustDigest(t, tagged))
		deleteRef(t, s, "notags/app", mustDigest(t, untagged))
		wantUnknown("notags/app") // the filesystem answered 200 with no tags
		wantUnknown("notags/never")
	})
}

// deleteRef deletes repo's manifest ref (a tag or a digest).
func deleteRef(t *testing.T, s *testServer, repo, ref string) {
	t.Helper()
	if status, _, body := do(t, http.MethodDelete, s.base+"/v2/"+repo+"/manifests/"+ref, nil, nil); status != http.StatusAccepted {
		t.Fatalf("DELETE %s:%s: %d %s", repo, ref, status, body)
	}
}
