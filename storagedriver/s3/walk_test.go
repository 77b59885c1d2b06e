package s3

import (
	"context"
	"errors"
	"net/http/httptest"
	"path"
	"slices"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// TestWalk compares Walk with distribution's List/Stat-based WalkFallback
// on a tree with more keys than one ListObjectsV2 page, with ErrSkipDir,
// ErrFilledBuffer and a StartAfterHint.
func TestWalk(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	sd := newTestDriver(t, testParams(endpoint, bucket, map[string]any{"rootdirectory": "root"}))
	ctx := context.Background()
	var files []string
	for _, dir := range []string{"/r/a", "/r/a/b", "/r/a/b/c", "/r/d", "/r/e-f"} {
		for _, f := range []string{"x", "y"} {
			files = append(files, dir+"/"+f)
		}
	}
	for i := range 1100 { // two pages
		files = append(files, "/r/many/"+string(rune('a'+i%26))+"/"+string(rune('a'+i/26%26))+string(rune('a'+i/676)))
	}
	files = append(files, "/outside/z")
	put := func(p string) {
		if err := sd.PutContent(ctx, p, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		put(f)
	}

	collect := func(walk func(storagedriver.WalkFn) error, f func(storagedriver.FileInfo) error) []string {
		var got []string
		err := walk(func(fi storagedriver.FileInfo) error {
			got = append(got, fi.Path())
			if !fi.IsDir() && fi.Size() != int64(len(fi.Path())) {
				t.Errorf("%s: size %d", fi.Path(), fi.Size())
			}
			if f != nil {
				return f(fi)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walk: %v", err)
		}
		return got
	}
	ours := func(from string, opts ...func(*storagedriver.WalkOptions)) func(storagedriver.WalkFn) error {
		return func(f storagedriver.WalkFn) error { return sd.Walk(ctx, from, f, opts...) }
	}
	fallback := func(from string) func(storagedriver.WalkFn) error {
		return func(f storagedriver.WalkFn) error { return storagedriver.WalkFallback(ctx, sd, from, f) }
	}
	sameSet := func(name string, got, want []string) {
		t.Helper()
		g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
		if !slices.Equal(g, w) {
			t.Errorf("%s: walked %d paths, want %d\n got %q\nwant %q", name, len(g), len(w), first(g, 20), first(w, 20))
		}
		seen := map[string]bool{}
		for _, p := range got {
			if parent := path.Dir(p); parent != "/r" && parent != "/" && slices.Contains(got, parent) && !seen[parent] {
				t.Errorf("%s: %s visited before its directory", name, p)
			}
			seen[p] = true
		}
	}

	sameSet("full", collect(ours("/r"), nil), collect(fallback("/r"), nil))
	skipB := func(fi storagedriver.FileInfo) error {
		if fi.IsDir() && (fi.Path() == "/r/a/b" || fi.Path() == "/r/many") {
			return storagedriver.ErrSkipDir
		}
		return nil
	}
	sameSet("skip", collect(ours("/r"), skipB), collect(fallback("/r"), skipB))

	n := 0
	stopAt5 := func(storagedriver.FileInfo) error {
		if n++; n == 5 {
			return storagedriver.ErrFilledBuffer
		}
		return nil
	}
	if got := collect(ours("/r"), stopAt5); len(got) != 5 {
		t.Errorf("ErrFilledBuffer: walked %d, want 5", len(got))
	}
	after := collect(ours("/r", storagedriver.WithStartAfterHint("/r/d/x")), nil)
	if slices.Contains(after, "/r/a/x") || slices.Contains(after, "/r/d/x") || !slices.Contains(after, "/r/d/y") {
		t.Errorf("StartAfterHint /r/d/x: walked %q", first(after, 10))
	}
	if got := collect(ours("/nonexistent"), nil); len(got) != 0 {
		t.Errorf("walk of a missing directory: %q", got)
	}
	errBoom := errors.New("boom")
	if err := sd.Walk(ctx, "/r", func(storagedriver.FileInfo) error { return errBoom }); !errors.Is(unwrapDriverError(err), errBoom) {
		t.Errorf("Walk returned %v, want the callback's error", err)
	}
}

// TestRedirectOff: without redirect, RedirectURL declines.
func TestRedirectOff(t *testing.T) {
	d, err := New(context.Background(), Config{Bucket: "b", Region: "us-east-1", ChunkSize: MinChunkSize,
		UploadConcurrency: 1, StorageClass: "STANDARD", Checksum: ChecksumOff, MaxAttempts: 1, MaxBackoff: 1,
		MultipartCopyChunkSize: MinChunkSize, MultipartCopyConcurrency: 1, RedirectExpiry: 1})
	if err != nil {
		t.Fatal(err)
	}
	u, err := d.RedirectURL(httptest.NewRequest("GET", "/x", nil), "/x")
	if u != "" || err != nil {
		t.Errorf("RedirectURL = %q, %v; want no redirect", u, err)
	}
}

func unwrapDriverError(err error) error {
	var de storagedriver.Error
	if errors.As(err, &de) {
		return de.Detail
	}
	return err
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }
