package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// deleteRecorder is a reverse proxy in front of S3 that records the number
// of keys of every DeleteObjects request and, when refuse is set, answers
// the next one itself with a per-key AccessDenied for that key.
type deleteRecorder struct {
	server  *httptest.Server
	mu      sync.Mutex
	batches []int
	refuse  string
}

func newDeleteRecorder(tb testing.TB, endpoint string) *deleteRecorder {
	u, err := url.Parse(endpoint)
	if err != nil {
		tb.Fatal(err)
	}
	r := &deleteRecorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	r.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost && req.URL.Query().Has("delete") {
			body, _ := io.ReadAll(req.Body)
			req.Body = io.NopCloser(bytes.NewReader(body))
			r.mu.Lock()
			r.batches = append(r.batches, bytes.Count(body, []byte("<Key>")))
			refuse := r.refuse
			r.refuse = ""
			r.mu.Unlock()
			if refuse != "" {
				w.Header().Set("Content-Type", "application/xml")
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Error><Key>%s</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>`, refuse)
				return
			}
		}
		proxy.ServeHTTP(w, req)
	}))
	tb.Cleanup(r.server.Close)
	return r
}

// TestDeleteFiles: DeleteFiles, reached through the driver the registry
// builds (the factory), deletes exactly the listed files in DeleteObjects
// batches of at most 1,000 keys; absent paths and duplicates are no
// error; a directory path, a sibling sharing a prefix and everything not
// listed stay; invalid paths are refused; a key S3 refuses is reported
// with its path.
func TestDeleteFiles(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	rec := newDeleteRecorder(t, endpoint)
	d := newTestDriver(t, testParams(rec.server.URL, bucket, map[string]any{"rootdirectory": "/root"}))
	del, ok := d.(interface {
		DeleteFiles(ctx context.Context, paths []string) error
	})
	if !ok {
		t.Fatalf("the factory's driver %T has no DeleteFiles", d)
	}
	ctx := t.Context()

	const n = 2100
	var paths []string
	for i := range n {
		paths = append(paths, fmt.Sprintf("/gc/blobs/%02x/%04d/data", i%256, i))
	}
	keep := []string{"/gc/blobs/00/0000/data-suffix", "/keep/dir/child"}
	if err := parallel(append(paths[:len(paths):len(paths)], keep...), func(p string) error {
		return d.PutContent(ctx, p, []byte(p))
	}); err != nil {
		t.Fatal(err)
	}

	// Absent files, a duplicate, and a directory (its child must stay).
	req := append(paths[:len(paths):len(paths)], "/gc/absent/a", "/never/written", paths[5], "/keep/dir")
	if err := del.DeleteFiles(ctx, req); err != nil {
		t.Fatalf("DeleteFiles: %v", err)
	}
	rec.mu.Lock()
	batches := rec.batches
	rec.batches = nil
	rec.mu.Unlock()
	sum := 0
	for _, b := range batches {
		if b > 1000 {
			t.Errorf("a DeleteObjects request of %d keys", b)
		}
		sum += b
	}
	if want := n + 3; sum != want || len(batches) != 3 {
		t.Errorf("batches %v: %d keys in %d requests, want %d keys (duplicates once) in 3", batches, sum, len(batches), want)
	}
	if err := parallel(paths, func(p string) error {
		_, err := d.Stat(ctx, p)
		if errors.As(err, new(storagedriver.PathNotFoundError)) {
			return nil
		}
		return fmt.Errorf("%s after DeleteFiles: %v", p, err)
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range keep {
		if b, err := d.GetContent(ctx, p); err != nil || string(b) != p {
			t.Errorf("%s, not listed, was touched: %q, %v", p, b, err)
		}
	}

	var invalid storagedriver.InvalidPathError
	for _, p := range []string{"/", "", "relative", "/dir/", "/a//b"} {
		if err := del.DeleteFiles(ctx, []string{"/keep/dir/child", p}); !errors.As(err, &invalid) {
			t.Errorf("path %q: %v, want InvalidPathError", p, err)
		}
	}
	if _, err := d.Stat(ctx, "/keep/dir/child"); err != nil {
		t.Fatalf("a refused call deleted something: %v", err)
	}

	rec.mu.Lock()
	rec.refuse = "root/keep/dir/child"
	rec.mu.Unlock()
	err := del.DeleteFiles(ctx, []string{"/keep/dir/child"})
	var de *DeleteError
	if !errors.As(err, &de) || de.Path != "/keep/dir/child" || de.Code != "AccessDenied" || !strings.Contains(err.Error(), "/keep/dir/child") {
		t.Fatalf("a refused key: %v, want a DeleteError naming /keep/dir/child", err)
	}
	if err := del.DeleteFiles(ctx, nil); err != nil {
		t.Fatalf("no paths: %v", err)
	}
}

// parallel calls fn for every path, 16 at a time, and returns the first
// error.
func parallel(paths []string, fn func(string) error) error {
	sem := make(chan struct{}, 16)
	errs := make(chan error, len(paths))
	var wg sync.WaitGroup
	for _, p := range paths {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs <- fn(p)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
