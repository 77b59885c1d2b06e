package s3

import (
	"context"
	"errors"
	"io"
	"slices"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// siblingNames are names that start with "v1" followed by a byte that sorts
// before '/' ('-', '.'), after it ('0', '_') or nothing: in S3 key order
// "v1-rc/…" and "v1.0/…" come before "v1/…", in the filesystem's order
// (by path component) after it, and a prefix check without the trailing
// '/' takes them for v1's contents.
var siblingNames = []string{"v1", "v1-rc", "v1.0", "v10", "v1_x"}

// TestSiblingPrefixParity runs Stat, List, Walk (with ErrSkipDir and
// ErrFilledBuffer), Delete and Move on paths that are prefixes of their
// siblings ("v1" and "v1-rc", "v1.0", "v10", "v1_x"), on SeaweedFS and on
// distribution's filesystem driver, and checks that both answer the same:
// deleting or skipping "v1" must leave its siblings alone, and a multipart
// upload in progress at a sibling must survive Delete of "v1".
func TestSiblingPrefixParity(t *testing.T) {
	endpoint := testEndpoint(t)
	ctx := context.Background()
	bucket := newTestBucket(t, endpoint)
	drivers := map[string]storagedriver.StorageDriver{
		"s3":         newTestDriver(t, testParams(endpoint, bucket, map[string]any{"rootdirectory": "/root"})),
		"filesystem": filesystem.New(filesystem.DriverParameters{RootDirectory: t.TempDir(), MaxThreads: 100}),
	}
	// Another root directory in the same bucket whose name the first is a
	// prefix of: nothing there may show below "/root".
	for _, root := range []string{"/root-x", "/root.x", "/root_x"} {
		other := newTestDriver(t, testParams(endpoint, bucket, map[string]any{"rootdirectory": root}))
		if err := other.PutContent(ctx, "/t/v1/current/link", []byte(root)); err != nil {
			t.Fatal(err)
		}
	}
	for name, d := range drivers {
		for _, n := range siblingNames {
			for _, f := range []string{"/t/" + n + "/current/link", "/t/" + n + "/index/x", "/f/" + n} {
				if err := d.PutContent(ctx, f, []byte(f)); err != nil {
					t.Fatalf("%s: put %s: %v", name, f, err)
				}
			}
		}
	}

	// results maps each driver to what it answered for one operation.
	check := func(op string, do func(storagedriver.StorageDriver) []string) {
		t.Helper()
		got := map[string][]string{}
		for name, d := range drivers {
			got[name] = do(d)
		}
		if !slices.Equal(got["s3"], got["filesystem"]) {
			t.Errorf("%s differs:\n        s3 %q\nfilesystem %q", op, got["s3"], got["filesystem"])
		}
	}
	walked := func(d storagedriver.StorageDriver, from string, f storagedriver.WalkFn) []string {
		var out []string
		err := d.Walk(ctx, from, func(fi storagedriver.FileInfo) error {
			out = append(out, fi.Path())
			return f(fi)
		})
		if err != nil {
			out = append(out, "error: "+err.Error())
		}
		return slices.Sorted(slices.Values(out))
	}
	stat := func(p string) func(storagedriver.StorageDriver) []string {
		return func(d storagedriver.StorageDriver) []string {
			fi, err := d.Stat(ctx, p)
			var missing storagedriver.PathNotFoundError
			switch {
			case errors.As(err, &missing):
				return []string{"missing"}
			case err != nil:
				return []string{"error: " + err.Error()}
			case fi.IsDir():
				return []string{"dir"}
			}
			return []string{"file"}
		}
	}

	check("Walk /", func(d storagedriver.StorageDriver) []string {
		return walked(d, "/", func(storagedriver.FileInfo) error { return nil })
	})
	check("List /", func(d storagedriver.StorageDriver) []string {
		l, err := d.List(ctx, "/")
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		return slices.Sorted(slices.Values(l))
	})
	check("List /t", func(d storagedriver.StorageDriver) []string {
		l, err := d.List(ctx, "/t")
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		return slices.Sorted(slices.Values(l))
	})
	check("Stat /t/v1", stat("/t/v1"))
	check("Stat /t/v", stat("/t/v"))
	check("Stat /f/v1", stat("/f/v1"))
	check("Walk /t", func(d storagedriver.StorageDriver) []string {
		return walked(d, "/t", func(storagedriver.FileInfo) error { return nil })
	})
	check("Walk /t skipping /t/v1", func(d storagedriver.StorageDriver) []string {
		return walked(d, "/t", func(fi storagedriver.FileInfo) error {
			if fi.Path() == "/t/v1" {
				return storagedriver.ErrSkipDir
			}
			return nil
		})
	})
	check("Walk /t/v1", func(d storagedriver.StorageDriver) []string {
		return walked(d, "/t/v1", func(storagedriver.FileInfo) error { return nil })
	})
	check("Walk /t stopping at /t/v1/current/link", func(d storagedriver.StorageDriver) []string {
		var seen []string
		_ = d.Walk(ctx, "/t", func(fi storagedriver.FileInfo) error {
			if fi.Path() == "/t/v1/current/link" {
				return storagedriver.ErrFilledBuffer
			}
			seen = append(seen, fi.Path())
			return nil
		})
		// The order differs by design (key order against component
		// order); neither walk may go on after ErrFilledBuffer.
		if len(seen) > 0 && seen[len(seen)-1] == "/t/v1_x/index/x" {
			return []string{"went on after ErrFilledBuffer"}
		}
		return nil
	})

	// A multipart upload in progress at a sibling and at v1 (S3 only).
	s3d := drivers["s3"]
	for _, p := range []string{"/t/v1/_uploads/data", "/t/v1-rc/_uploads/data", "/t/v1.0/_uploads/data"} {
		w, err := s3d.Writer(ctx, p, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(randomBytes(MinChunkSize + 1)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil { // keeps the upload (not committed)
			t.Fatal(err)
		}
	}

	check("Delete /t/v1", func(d storagedriver.StorageDriver) []string {
		if err := d.Delete(ctx, "/t/v1"); err != nil {
			return []string{"error: " + err.Error()}
		}
		return walked(d, "/t", func(storagedriver.FileInfo) error { return nil })
	})
	check("Delete /f/v1", func(d storagedriver.StorageDriver) []string {
		if err := d.Delete(ctx, "/f/v1"); err != nil {
			return []string{"error: " + err.Error()}
		}
		return walked(d, "/f", func(storagedriver.FileInfo) error { return nil })
	})
	check("Move /f/v1.0 to /f/v1", func(d storagedriver.StorageDriver) []string {
		if err := d.Move(ctx, "/f/v1.0", "/f/v1"); err != nil {
			return []string{"error: " + err.Error()}
		}
		b, err := d.GetContent(ctx, "/f/v1")
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		return append(walked(d, "/f", func(storagedriver.FileInfo) error { return nil }), string(b))
	})
	for p, kept := range map[string]bool{"/t/v1/_uploads/data": false, "/t/v1-rc/_uploads/data": true, "/t/v1.0/_uploads/data": true} {
		w, err := s3d.Writer(ctx, p, true)
		if !kept {
			if err == nil {
				w.Cancel(ctx)
				t.Errorf("Delete /t/v1 left the upload at %s", p)
			}
			continue
		}
		if err != nil {
			t.Errorf("Delete /t/v1 aborted the upload at sibling %s: %v", p, err)
			continue
		}
		if w.Size() != MinChunkSize+1 {
			t.Errorf("upload at %s resumed at %d bytes, want %d", p, w.Size(), MinChunkSize+1)
		}
		if err := w.Cancel(ctx); err != nil && !errors.Is(err, io.EOF) {
			t.Errorf("cancel %s: %v", p, err)
		}
	}
}
