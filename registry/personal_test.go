package registry

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/config"
)

// TestPersonalNamespaceSameAtEveryDoor reproduces a finding of the
// red-team review of 2026-12-04: a user named john.doe could push to its
// personal namespace through /v2/ but not through the upload door, which
// refused a first component with a "." as "looks like a registry host" —
// a name rule of its own. Now both doors check names by one rule
// (internal/reponame) and authorize by one policy: for each user ("." and
// "_" in their names) and repository, the upload door decides as /v2/
// does. A user whose name cannot be a path component ("John") has no
// personal namespace, and both doors refuse its name with the same
// message, naming the component.
func TestPersonalNamespaceSameAtEveryDoor(t *testing.T) {
	users := map[string]string{"john.doe": "john-pw", "mary_jane": "mary-pw", "John": "john-pw"}
	s := startUsersServer(t, users, nil, func(c *config.Config) { c.Auth.PersonalNamespace = true })
	tarOf := func(ref string) *bytes.Buffer {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := tarball.Write(mustTag(t, ref), img, &buf); err != nil {
			t.Fatal(err)
		}
		return &buf
	}
	for _, tc := range []struct {
		user, repo string
		allowed    bool
	}{
		{"john.doe", "john.doe/app", true},
		{"john.doe", "john.doe/team/tool", true},
		{"mary_jane", "mary_jane/app", true},
		{"mary_jane", "john.doe/app", false},
		{"john.doe", "mary_jane/app", false},
		{"john.doe", "other/app", false},
	} {
		auth := remote.WithAuth(&authn.Basic{Username: tc.user, Password: users[tc.user]})
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(s.host()+"/"+tc.repo+":v2", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		v2Err := remote.Write(ref, img, auth)
		if (v2Err == nil) != tc.allowed {
			t.Errorf("%s pushes %s through /v2/: %v, want allowed=%v", tc.user, tc.repo, v2Err, tc.allowed)
		}
		status, _, body := do(t, http.MethodPost, s.base+"/upload-image?repository="+tc.repo+"&tag=tar",
			basic(tc.user, users[tc.user]), tarOf("example.com/orig:v0"))
		want := http.StatusForbidden
		if tc.allowed {
			want = http.StatusCreated
		}
		if status != want {
			t.Errorf("%s uploads to %s: %d %.300s, want %d as on /v2/", tc.user, tc.repo, status, body, want)
		}
	}

	// A name from the archive (RepoTags, the registry host dropped).
	status, _, body := do(t, http.MethodPost, s.base+"/upload-image", basic("john.doe", users["john.doe"]),
		tarOf("registry.example/john.doe/named:1"))
	if status != http.StatusCreated {
		t.Fatalf("john.doe uploads an archive naming registry.example/john.doe/named:1: %d %.300s, want 201", status, body)
	}
	ref, _ := name.ParseReference(s.host()+"/john.doe/named:1", name.Insecure)
	if _, err := remote.Image(ref, remote.WithAuth(&authn.Basic{Username: "john.doe", Password: users["john.doe"]})); err != nil {
		t.Fatalf("pull of the uploaded john.doe/named:1: %v", err)
	}

	// "John" cannot be a path component: the same refusal at both doors.
	status, _, v2Body := do(t, http.MethodPut, s.base+"/v2/John/app/manifests/1", basic("John", users["John"]), strings.NewReader("{}"))
	v2Code, v2Msg := ociError(t, v2Body)
	if status != http.StatusBadRequest || v2Code != "NAME_INVALID" {
		t.Fatalf("John's manifest PUT to John/app: %d %s, want 400 NAME_INVALID", status, v2Body)
	}
	status, _, body = do(t, http.MethodPost, s.base+"/upload-image?repository=John/app", basic("John", users["John"]), tarOf("example.com/orig:v0"))
	code, msg := ociError(t, body)
	if status != http.StatusBadRequest || code != "UPLOAD_INVALID" || msg != v2Msg || !strings.Contains(msg, `path component "John" is not lower-case`) {
		t.Fatalf("John's upload to John/app: %d %s %q; want 400 UPLOAD_INVALID with /v2/'s message %q, naming the component", status, code, msg, v2Msg)
	}
}
