package registry

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/config"
)

// TestAbandonedUploadSessionsAreBounded reproduces a storage exhaustion
// (red-team review of 2026-12-04): a pusher opens blob upload sessions
// in a loop (POST /v2/<name>/blobs/uploads/) and never comes back. Each
// is three files and three directories in storage that only the purger
// removes, a week later; one client opened ~370 a second (2,200 inodes
// a second: a 100 GB ext4 volume's inodes in under an hour). Before the
// fix all 60 sessions stayed in storage; now at most
// limits.uploadsessions do: the least recently used session is
// cancelled, while one the client keeps using survives and completes.
func TestAbandonedUploadSessionsAreBounded(t *testing.T) {
	const limit, opened = 10, 60
	var root string
	s := startServer(t, func(c *config.Config) {
		c.Limits.UploadSessions = limit
		root = c.Storage.Filesystem.RootDirectory
	})
	open := func(repo string) string {
		t.Helper()
		status, hdr, body := do(t, http.MethodPost, s.base+"/v2/"+repo+"/blobs/uploads/", nil, nil)
		if status != http.StatusAccepted {
			t.Fatalf("opening an upload: %d %s", status, body)
		}
		return strings.TrimPrefix(hdr.Get("Location"), s.base)
	}
	content := []byte("kept in use, ok!") // one byte per PATCH below
	kept := open("flood/kept")
	abandoned := open("flood/a")
	patched := 0
	for i := range opened {
		open(fmt.Sprintf("flood/r%d", i%3)) // several repositories: the bound is per identity
		if i%(limit/2) == 0 {               // the kept session stays in use
			status, hdr, body := do(t, http.MethodPatch, s.base+kept, http.Header{"Content-Type": {"application/octet-stream"}}, bytes.NewReader(content[patched:patched+1]))
			if status != http.StatusAccepted {
				t.Fatalf("PATCH of the kept session: %d %s", status, body)
			}
			kept = strings.TrimPrefix(hdr.Get("Location"), s.base)
			patched++
		}
	}

	sessions, err := filepath.Glob(filepath.Join(root, "docker/registry/v2/repositories/flood/*/_uploads/*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) > limit {
		t.Fatalf("%d upload sessions in storage after %d were opened; limits.uploadsessions is %d", len(sessions), opened+2, limit)
	}
	status, _, body := do(t, http.MethodGet, s.base+abandoned, nil, nil)
	if status != http.StatusNotFound || ociErrorCodes(t, body)[0] != "BLOB_UPLOAD_UNKNOWN" {
		t.Fatalf("the first abandoned session: %d %s, want 404 BLOB_UPLOAD_UNKNOWN", status, body)
	}

	// The kept session holds what was sent so far and completes.
	status, hdr, _ := do(t, http.MethodGet, s.base+kept, nil, nil)
	if status != http.StatusNoContent {
		t.Fatalf("the kept session: %d, want 204", status)
	}
	if want := fmt.Sprintf("0-%d", patched-1); hdr.Get("Range") != want {
		t.Fatalf("the kept session holds %q, want %q", hdr.Get("Range"), want)
	}
	dgst := fmt.Sprintf("sha256:%x", sha256.Sum256(content))
	status, _, body = do(t, http.MethodPut, s.base+kept+"&digest="+dgst, http.Header{"Content-Type": {"application/octet-stream"}}, bytes.NewReader(content[patched:]))
	if status != http.StatusCreated {
		t.Fatalf("completing the kept session: %d %s", status, body)
	}
	if _, err := os.Stat(filepath.Join(root, "docker/registry/v2/repositories/flood/kept/_layers/sha256", dgst[len("sha256:"):])); err != nil {
		t.Fatalf("the kept session's blob is not linked: %v", err)
	}
}
