package registry

import (
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/config"
)

// TestPurgeLeavesSiblingRepositoriesUploads: purging the abandoned upload
// of "sib/a" keeps the fresh uploads of "sib/a-b", "sib/a.b", "sib/a_b" and
// "sib/a0", on both drivers (on S3 their keys sort before and after
// "sib/a/", and the purge deletes "…/sib/a/_uploads/<id>" and aborts the
// multipart uploads below it).
func TestPurgeLeavesSiblingRepositoriesUploads(t *testing.T) {
	onEveryDriver(t, "imagegate-purge-", func(c *config.Config) { c.Storage.UploadPurging.Age = time.Hour }, func(t *testing.T, s *testServer) {
		uploads := map[string]string{} // repository → the upload's URL
		for _, repo := range siblingRepos {
			status, h, body := do(t, http.MethodPost, s.base+"/v2/"+repo+"/blobs/uploads/", nil, nil)
			if status != http.StatusAccepted {
				t.Fatalf("starting an upload in %s: %d %s", repo, status, body)
			}
			uploads[repo] = patchUpload(t, s, h.Get("Location"), "first", http.StatusAccepted)
		}
		u, err := url.Parse(uploads["sib/a"])
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-2 * time.Hour).UTC().Format(time.RFC3339)
		startedAt := path.Join(repositoriesRoot, "sib/a/_uploads", path.Base(u.Path), "startedat")
		if err := s.driver.PutContent(t.Context(), startedAt, []byte(old)); err != nil {
			t.Fatal(err)
		}
		if err := purgeUploads(s.driver, s.cfg.Storage.UploadPurging, slog.New(slog.DiscardHandler))(t.Context()); err != nil {
			t.Fatal(err)
		}
		patchUpload(t, s, uploads["sib/a"], "more", http.StatusNotFound)
		for _, repo := range siblingRepos[1:] {
			patchUpload(t, s, uploads[repo], "more", http.StatusAccepted)
		}
	})
}

// patchUpload sends data to the upload at loc, checks the status and
// returns the upload's next URL (loc when the answer names none).
func patchUpload(t *testing.T, s *testServer, loc, data string, want int) string {
	t.Helper()
	if !strings.HasPrefix(loc, "http") {
		loc = s.base + loc
	}
	status, h, body := do(t, http.MethodPatch, loc, http.Header{"Content-Type": {"application/octet-stream"}}, strings.NewReader(data))
	if status != want {
		t.Errorf("PATCH %s: %d %s; want %d", loc, status, body, want)
	}
	if next := h.Get("Location"); next != "" {
		if !strings.HasPrefix(next, "http") {
			next = s.base + next
		}
		return next
	}
	return loc
}
