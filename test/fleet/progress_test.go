package fleet

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// uploadStatus is GET /api/v1/uploads/{id}.
type uploadStatus struct {
	ID            string `json:"id"`
	Stage         string `json:"stage"`
	BytesReceived int64  `json:"bytes_received"`
}

// testProgress: a tarball upload sent to replica 1 is followed through
// replicas 2 and 3 (GET /api/v1/uploads/{id}) while its body is still
// arriving, and its end ("done") is seen there too.
//
// Intended behaviour of issue #13 (upload progress in the shared store);
// it fails while progress lives in the memory of the replica that takes
// the upload (the others answer 404).
func testProgress(t *testing.T, f *fleet) {
	img, _ := imageTarball(t, 3, 256<<10)
	var archive bytes.Buffer
	tag, err := name.NewTag("team/progress:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.Write(tag, img, &archive); err != nil {
		t.Fatal(err)
	}
	const id = "fleet-progress-0001"
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost,
			"http://"+f.replicas[0].Addr+"/api/v1/uploads?repository=team/progress&tag=v1", pr)
		req.SetBasicAuth("root", users["root"])
		req.Header.Set("Imagegate-Upload-Id", id)
		resp, err := httpClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		done <- resp.StatusCode
	}()
	defer pw.Close()
	half := archive.Len() / 2
	if _, err := pw.Write(archive.Bytes()[:half]); err != nil {
		t.Fatal(err)
	}
	token := basic("root")
	// Replica 1 took the upload: it sees the bytes arrive.
	waitUpload(t, f.replicas[0].Addr, id, token, func(s uploadStatus) bool { return s.BytesReceived > 0 })
	// The other replicas read the shared copy, published at most once a
	// second while bytes arrive: they see the bytes within that bound.
	for _, r := range f.replicas[1:] {
		waitUpload(t, r.Addr, id, token, func(s uploadStatus) bool { return s.ID == id && s.BytesReceived > 0 })
	}
	if _, err := pw.Write(archive.Bytes()[half:]); err != nil {
		t.Fatal(err)
	}
	_ = pw.Close()
	if status := <-done; status != http.StatusCreated {
		t.Fatalf("upload through replica 1: %d, want 201", status)
	}
	var s uploadStatus
	if status := getJSON(t, "http://"+f.replicas[2].Addr+"/api/v1/uploads/"+id, token, &s); status != http.StatusOK || s.Stage != "done" {
		t.Errorf("replica 3 after the upload ended: %d %+v, want 200, stage done", status, s)
	}
}

// waitUpload polls GET /api/v1/uploads/{id} at addr (bounded) until cond holds.
func waitUpload(t *testing.T, addr, id, token string, cond func(uploadStatus) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		var s uploadStatus
		status := getJSON(t, "http://"+addr+"/api/v1/uploads/"+id, token, &s)
		if status == http.StatusOK && cond(s) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("upload %s at %s: last answer %d %+v", id, addr, status, s)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
