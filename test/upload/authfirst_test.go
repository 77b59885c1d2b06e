package upload

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// TestUploadRefusedBeforeTheBody reproduces issue 12, findings 9 and 10:
// the upload endpoints read the multipart form before authenticating,
// accepted anonymous tokens, and streamed (and stored) a whole archive
// without ?repository= before checking push rights. Every refusal below
// must come while the client has not sent a byte of the body (the body
// is a pipe nobody writes to until the answer is in); the last case sends
// manifest.json first and must be refused before the rest is sent.
func TestUploadRefusedBeforeTheBody(t *testing.T) {
	htpasswd := liveserver.WriteHtpasswd(t, map[string]string{"alice": "alice-pw", "carol": "carol-pw"})
	s := start(t, func(c *config.Config) {
		c.Auth.Enabled = true
		c.Auth.Htpasswd = htpasswd
		c.Auth.SigningKey = filepath.Join(t.TempDir(), "signing.pem")
		c.Auth.PersonalNamespace = false
		c.Auth.Bindings = []config.AuthBinding{
			{Subjects: []string{"alice"}, Role: "developer", Repositories: []string{"alice/**"}},
			{Subjects: []string{"carol"}, Role: "reader", Repositories: []string{"**"}},
		}
	})
	basic := func(user string) http.Header {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(user, user+"-pw")
		return r.Header
	}
	multipart := func(h http.Header) http.Header {
		h = h.Clone()
		if h == nil {
			h = http.Header{}
		}
		h.Set("Content-Type", "multipart/form-data; boundary=b")
		return h
	}
	anonymous := anonymousToken(t, s)
	cases := []struct {
		name, path, query string
		header            http.Header
		status            int
		code              string
	}{
		{"no credentials", "/upload-image", "", nil, 401, "UNAUTHORIZED"},
		{"no credentials, multipart form", "/upload-image", "", multipart(nil), 401, "UNAUTHORIZED"},
		{"anonymous token", "/upload-image", "", anonymous, 401, "UNAUTHORIZED"},
		{"anonymous token, repository named", "/api/v1/uploads", "repository=alice/app", anonymous, 401, "UNAUTHORIZED"},
		{"no push anywhere", "/upload-image", "", basic("carol"), 403, "DENIED"},
		{"no push anywhere, multipart form", "/upload-image", "", multipart(basic("carol")), 403, "DENIED"},
		{"no push on the query's repository", "/upload-image", "repository=alice/app", basic("carol"), 403, "DENIED"},
		{"direct upload without push", "/api/v1/uploads", "direct=s3&size=1000", basic("carol"), 403, "DENIED"},
		{"too many tags in the query", "/upload-image", "repository=alice/app" + strings.Repeat("&tag=t", 65), basic("alice"), 400, "UPLOAD_INVALID"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := uploadHeld(t, s, c.path, c.query, c.header, nil)
			if r.Status != c.status || len(r.Errors) == 0 || r.Errors[0].Code != c.code {
				t.Fatalf("got %d %s, want %d %s", r.Status, r.Body, c.status, c.code)
			}
		})
	}
	t.Run("foreign repository named by manifest.json", func(t *testing.T) {
		archive := dockerSave(t, false, saveImage{img: randomImage(t, 64<<10, 2), tags: []string{"bob/app:1"}})
		// manifest.json first: everything after it is held back.
		head := tarOf(t, entry{name: "manifest.json", data: fileOf(t, archive, "manifest.json")})
		head = head[:len(head)-1024] // without the end-of-archive blocks
		r := uploadHeld(t, s, "/upload-image", "", basic("alice"), head)
		if r.Status != 403 || len(r.Errors) == 0 || r.Errors[0].Code != "DENIED" || !strings.Contains(r.Errors[0].Message, "bob/app") {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
	})
}

// uploadHeld posts to path a body of which only head is ever sent: the
// rest is held back until the answer is in, so an answer proves the
// server decided without it (a server that waits for more fails the test
// at testClient's timeout).
func uploadHeld(t testing.TB, s *testServer, path, query string, header http.Header, head []byte) uploadResult {
	t.Helper()
	pr, pw := io.Pipe()
	answered := make(chan struct{})
	go func() {
		if len(head) > 0 {
			if _, err := pw.Write(head); err != nil {
				return
			}
		}
		<-answered
		pw.CloseWithError(io.ErrClosedPipe)
	}()
	defer close(answered)
	return s.upload(t, path, query, pr, header)
}

// anonymousToken is a token from the token endpoint without credentials.
func anonymousToken(t testing.TB, s *testServer) http.Header {
	t.Helper()
	resp, err := http.Get(s.url("/auth/token?service=imagegate&scope=repository:alice/app:push,pull"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" {
		t.Fatalf("anonymous token: %d %v", resp.StatusCode, err)
	}
	return http.Header{"Authorization": {"Bearer " + tok.Token}}
}

// fileOf is the content of the file called name in a tar archive.
func fileOf(t testing.TB, archive []byte, name string) []byte {
	t.Helper()
	for _, e := range entriesOf(t, archive) {
		if e.name == name {
			return e.data
		}
	}
	t.Fatalf("%s is not in the archive", name)
	return nil
}
