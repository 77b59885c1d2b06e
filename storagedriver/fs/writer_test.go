package fs

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
)

// Appends at unaligned offsets across several writers (as PATCHes reopen
// the upload) and writes straddling buffer boundaries land byte for byte.
func TestWriterAppendsUnaligned(t *testing.T) {
	ctx := context.Background()
	d := New(t.TempDir())
	want := make([]byte, 3*bufSize+12345)
	rand.Read(want)
	cuts := []int{0, 1, 4095, 4097, bufSize + 3, 2*bufSize + 777, len(want)}
	for i := 1; i < len(cuts); i++ {
		w, err := d.Writer(ctx, "/a/data", i > 1)
		if err != nil {
			t.Fatal(err)
		}
		if w.Size() != int64(cuts[i-1]) {
			t.Fatalf("writer %d opened at %d, want %d", i, w.Size(), cuts[i-1])
		}
		// Odd write sizes, as the request body's reads come.
		for p := want[cuts[i-1]:cuts[i]]; len(p) > 0; {
			n := min(len(p), 32<<10+7)
			if _, err := w.Write(p[:n]); err != nil {
				t.Fatal(err)
			}
			p = p[n:]
		}
		if i == len(cuts)-1 {
			if err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.GetContent(ctx, "/a/data")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("content differs (len %d, want %d)", len(got), len(want))
	}
}

// Move creates the destination's directories and the file is there after.
func TestMoveIntoNewDirectories(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	d := New(root)
	if err := d.PutContent(ctx, "/up/data", []byte("blob")); err != nil {
		t.Fatal(err)
	}
	if err := d.Move(ctx, "/up/data", "/blobs/sha256/ab/abcd/data"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "blobs/sha256/ab/abcd/data"))
	if err != nil || string(b) != "blob" {
		t.Fatalf("moved file: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(root, "up/data")); !os.IsNotExist(err) {
		t.Fatalf("source still there: %v", err)
	}
}
