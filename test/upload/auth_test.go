package upload

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// TestAuth: uploads need push on every target, with Basic credentials or
// a Bearer token; progress is shown to the uploader only.
func TestAuth(t *testing.T) {
	users := map[string]string{"alice": "alice-pw", "bob": "bob-pw"}
	htpasswd := liveserver.WriteHtpasswd(t, users)
	s := start(t, func(c *config.Config) {
		c.Auth.Enabled = true
		c.Auth.Htpasswd = htpasswd
		c.Auth.SigningKey = filepath.Join(t.TempDir(), "signing.pem")
	})
	archive := dockerSave(t, false, saveImage{img: randomImage(t, 2048, 1), tags: []string{"bob/app:1"}})
	basic := func(user, pw string) http.Header {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(user, pw)
		return r.Header
	}
	cases := []struct {
		name, query string
		header      http.Header
		status      int
		code        string
	}{
		{"anonymous", "repository=alice/app&tag=1", nil, 401, "UNAUTHORIZED"},
		{"wrong password", "repository=alice/app&tag=1", basic("alice", "nope"), 401, "UNAUTHORIZED"},
		{"basic, own namespace", "repository=alice/app&tag=1", basic("alice", "alice-pw"), 201, ""},
		{"basic, foreign repository in the query", "repository=bob/app&tag=1", basic("alice", "alice-pw"), 403, "DENIED"},
		{"basic, foreign repository in RepoTags", "", basic("alice", "alice-pw"), 403, "DENIED"},
		{"bearer token for the repository", "repository=alice/tok&tag=1", bearer(t, s, "alice", "repository:alice/tok:push,pull"), 201, ""},
		{"bearer token for another repository", "repository=alice/other&tag=1", bearer(t, s, "alice", "repository:alice/tok:push,pull"), 403, "DENIED"},
		{"bad bearer token", "repository=alice/app&tag=1", http.Header{"Authorization": {"Bearer nonsense"}}, 401, "UNAUTHORIZED"},
	}
	var aliceUpload string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.upload(t, "/upload-image", c.query, bytesReader(archive), c.header)
			if r.Status != c.status || (c.code != "" && (len(r.Errors) == 0 || r.Errors[0].Code != c.code)) {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, c.status, c.code)
			}
			if c.status == 401 && c.header == nil && !strings.HasPrefix(r.challenge, "Bearer realm=") {
				t.Fatalf("challenge %q", r.challenge)
			}
			if c.status == 201 && aliceUpload == "" {
				aliceUpload = r.UploadID
			}
		})
	}
	s.assertRepositories(t, basic("alice", "alice-pw"), "alice/app", "alice/tok")
	get := func(h http.Header) int {
		req, _ := http.NewRequest("GET", s.url("/api/v1/uploads/"+aliceUpload), nil)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(basic("alice", "alice-pw")); got != 200 {
		t.Fatalf("alice reading her upload: %d", got)
	}
	if got := get(basic("bob", "bob-pw")); got != 404 {
		t.Fatalf("bob reading alice's upload: %d", got)
	}
	if got := get(nil); got != 401 {
		t.Fatalf("anonymous reading an upload: %d", got)
	}
}

// bearer gets a token for scope from the token endpoint.
func bearer(t testing.TB, s *testServer, user, scope string) http.Header {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url("/auth/token?service=imagegate&scope="+url.QueryEscape(scope)), nil)
	req.SetBasicAuth(user, user+"-pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return http.Header{"Authorization": {"Bearer " + tok.Token}}
}

// assertRepositories checks the catalog (as the given caller) lists exactly want.
func (s *testServer) assertRepositories(t testing.TB, h http.Header, want ...string) {
	t.Helper()
	tokReq, _ := http.NewRequest("GET", s.url("/auth/token?service=imagegate&scope=registry:catalog:*"), nil)
	for k, v := range h {
		tokReq.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(tokReq)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest("GET", s.url("/v2/_catalog"), nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cat struct{ Repositories []string }
	if err := json.NewDecoder(resp.Body).Decode(&cat); err != nil {
		t.Fatal(err)
	}
	if strings.Join(cat.Repositories, ",") != strings.Join(want, ",") {
		t.Fatalf("catalog %v, want %v", cat.Repositories, want)
	}
}
