package registry

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/metadata"
)

// pushN pushes n random images to repo:tag (moving the tag each time) and
// returns their digests, oldest first.
func pushN(t *testing.T, s *testServer, repo, tag string, n int) []v1.Hash {
	t.Helper()
	ref, _ := name.ParseReference(s.host()+"/"+repo+":"+tag, name.Insecure)
	var ds []v1.Hash
	for range n {
		img, _ := random.Image(256, 1)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		ds = append(ds, d)
	}
	return ds
}

func TestAPIListsPushesPaged(t *testing.T) {
	s := startServer(t, nil)
	ds := pushN(t, s, "api/app", "latest", 5)
	pushN(t, s, "api/other", "v1", 2)

	var got []string
	next := "/api/v1/pushes?repository=api%2Fapp&limit=2"
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		status, hdr, body := do(t, "GET", s.base+next, nil, nil)
		if status != 200 {
			t.Fatalf("%s: %d %s", next, status, body)
		}
		var page struct {
			Records []struct {
				Digest     string `json:"digest"`
				Repository string `json:"repository"`
				Status     string `json:"status"`
			} `json:"records"`
			NextCursor string `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Records {
			if r.Repository != "api/app" || r.Status != "accepted" {
				t.Fatalf("unexpected record %+v", r)
			}
			got = append(got, r.Digest)
		}
		next = ""
		if link := hdr.Get("Link"); link != "" {
			next = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
			if u, err := url.Parse(next); err != nil || u.Query().Get("cursor") != page.NextCursor {
				t.Fatalf("Link %q disagrees with next_cursor %q", link, page.NextCursor)
			}
		}
	}
	var want []string
	for i := len(ds) - 1; i >= 0; i-- {
		want = append(want, ds[i].String())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages gave %v\nwant newest first %v", got, want)
	}
}

func TestAPIManifestHistory(t *testing.T) {
	s := startServer(t, nil)
	ds := pushN(t, s, "api/hist", "stable", 2) // stable moves from ds[0] to ds[1]
	status, _, body := do(t, "GET", s.base+"/api/v1/repositories/api/hist/manifests/"+ds[0].String(), nil, nil)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var info struct {
		Latest struct {
			Digest string   `json:"digest"`
			Tags   []string `json:"tags"`
		} `json:"latest"`
		TagHistory []struct {
			Tag   string `json:"tag"`
			Event string `json:"event"`
			To    string `json:"to"`
		} `json:"tag_history"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	if info.Latest.Digest != ds[0].String() || !slices.Equal(info.Latest.Tags, []string{"stable"}) {
		t.Fatalf("latest %+v", info.Latest)
	}
	if len(info.TagHistory) != 2 ||
		info.TagHistory[0].Event != "moved-away" || info.TagHistory[0].To != ds[1].String() ||
		info.TagHistory[1].Event != "tagged" || info.TagHistory[1].Tag != "stable" {
		t.Fatalf("tag history %+v", info.TagHistory)
	}
}

func TestAPIBadRequests(t *testing.T) {
	s := startServer(t, nil)
	pushN(t, s, "api/x", "v1", 1)
	cases := []struct {
		path       string
		wantStatus int
		wantCode   string
	}{
		{"/api/v1/pushes?limit=0", 400, "QUERY_INVALID"},
		{"/api/v1/pushes?limit=abc", 400, "QUERY_INVALID"},
		{"/api/v1/pushes?since=yesterday", 400, "QUERY_INVALID"},
		{"/api/v1/pushes?digest=sha256:zz", 400, "DIGEST_INVALID"},
		{"/api/v1/pushes?cursor=%25%25notacursor", 400, "QUERY_INVALID"},
		{"/api/v1/repositories/api/x/manifests/latest", 400, "DIGEST_INVALID"},
		{"/api/v1/repositories/API/X/manifests/sha256:" + strings.Repeat("a", 64), 400, "NAME_INVALID"},
		{"/api/v1/repositories/api/x/manifests/sha256:" + strings.Repeat("a", 64), 404, "RECORD_UNKNOWN"},
		{"/api/v1/repositories/api/x", 404, "NOT_FOUND"},
		{"/api/v1/nothing", 404, "NOT_FOUND"},
	}
	for _, tc := range cases {
		status, _, body := do(t, "GET", s.base+tc.path, nil, nil)
		if status != tc.wantStatus || !slices.Contains(ociErrorCodes(t, body), tc.wantCode) {
			t.Errorf("%s: %d %s, want %d %s", tc.path, status, body, tc.wantStatus, tc.wantCode)
		}
	}
}

// TestAPIRescanNeedsPush reproduces issue 12 finding 8: a rescan costs a
// scanner worker for minutes and needed only pull, so a pull-only
// account could keep the scanners busy. A reader is now refused (403
// naming who lacks push on what) before any scan starts; a developer gets
// through (here to the 503 of a server without a scanner).
func TestAPIRescanNeedsPush(t *testing.T) {
	s := startAuthServer(t)
	pushAs(t, s, "team/app", "alice")
	page, _ := s.store.List(t.Context(), metadata.Query{Repository: "team/app"})
	path := "/api/v1/repositories/team/app/manifests/" + page.Records[0].Digest.String() + "/scan"

	bob := http.Header{"Authorization": {"Bearer " + token(t, s, "bob", "registry:catalog:*")}}
	status, _, body := do(t, "POST", s.base+path, bob, nil)
	if status != http.StatusForbidden || !strings.Contains(string(body), "bob may not push team/app") {
		t.Fatalf("reader rescan: %d %s, want 403 naming bob, push and team/app", status, body)
	}
	alice := http.Header{"Authorization": {"Bearer " + token(t, s, "alice", "registry:catalog:*")}}
	if status, _, body := do(t, "POST", s.base+path, alice, nil); status != http.StatusServiceUnavailable ||
		!strings.Contains(string(body), "no scanner") {
		t.Fatalf("developer rescan: %d %s, want past the guard (503 no scanner)", status, body)
	}
}

// TestAPIHidesPusherIPFromReaders reproduces finding 8: push records
// showed the pusher's client IP to anyone who may pull the repository.
// Now only administrators see it.
func TestAPIHidesPusherIPFromReaders(t *testing.T) {
	s := startAuthServer(t)
	pushAs(t, s, "team/app", "alice")
	page, _ := s.store.List(t.Context(), metadata.Query{Repository: "team/app"})
	if len(page.Records) != 1 || page.Records[0].ClientIP == "" {
		t.Fatalf("the record has no client IP to hide: %+v", page.Records)
	}
	ip := page.Records[0].ClientIP
	paths := []string{"/api/v1/pushes?repository=team/app",
		"/api/v1/repositories/team/app/manifests/" + page.Records[0].Digest.String()}
	for _, p := range paths {
		bob := http.Header{"Authorization": {"Bearer " + token(t, s, "bob", "repository:team/app:pull")}}
		status, _, body := do(t, "GET", s.base+p, bob, nil)
		if status != http.StatusOK || strings.Contains(string(body), "client_ip") || strings.Contains(string(body), `"`+ip+`"`) {
			t.Errorf("reader GET %s: %d shows the pusher's IP:\n%s", p, status, body)
		}
		root := http.Header{"Authorization": {"Bearer " + token(t, s, "root", "registry:catalog:*")}}
		if status, _, body := do(t, "GET", s.base+p, root, nil); status != http.StatusOK || !strings.Contains(string(body), ip) {
			t.Errorf("admin GET %s: %d without the pusher's IP:\n%s", p, status, body)
		}
	}
	// The store's own record is untouched.
	if again, _ := s.store.List(t.Context(), metadata.Query{Repository: "team/app"}); again.Records[0].ClientIP != ip {
		t.Fatal("hiding the IP changed the stored record")
	}
}
