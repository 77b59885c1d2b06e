package fs

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// TestOpenFile (attack: a path leaving the root): OpenFile opens a stored
// file for reading and refuses paths with . or .. components.
func TestOpenFile(t *testing.T) {
	root := t.TempDir()
	d := New(filepath.Join(root, "registry")).(*Driver)
	if err := d.PutContent(t.Context(), "/a/b", []byte("content")); err != nil {
		t.Fatal(err)
	}
	f, err := d.OpenFile("/a/b")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(got) != "content" {
		t.Fatalf("read %q (%v)", got, err)
	}
	if err := os.WriteFile(filepath.Join(root, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/../secret", "/a/../../secret", "/a/./b", "a/b", "/a//b"} {
		if f, err := d.OpenFile(p); err == nil {
			f.Close()
			t.Fatalf("OpenFile(%q) was allowed", p)
		}
	}
	if _, err := d.OpenFile("/a/missing"); !errors.As(err, new(storagedriver.PathNotFoundError)) {
		t.Fatalf("missing file: %v, want PathNotFoundError", err)
	}
}
