package shim

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/distribution/reference"
)

// testWriter is a blob writer into an in-memory registry.
func testWriter(t *testing.T, lim Limits) *blobWriter {
	t.Helper()
	reg, err := storage.NewRegistry(t.Context(), inmemory.New())
	if err != nil {
		t.Fatal(err)
	}
	name, _ := reference.WithName("test/repo")
	repo, err := reg.Repository(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return &blobWriter{blobs: repo.Blobs(t.Context()), compression: None, lim: lim.withDefaults(), global: reg.BlobStatter()}
}

// endless yields zeros forever, counting them, and calls at once when
// after bytes have been read.
type endless struct {
	n     atomic.Int64
	after int64
	at    func()
}

func (e *endless) Read(p []byte) (int, error) {
	clear(p)
	if e.n.Add(int64(len(p))) >= e.after && e.at != nil {
		e.at()
		e.at = nil
	}
	return len(p), nil
}

// TestReadStopsInsideAnEntry reproduces issue 12, finding 11: a cancelled
// upload went on copying the current entry to its end (for a sparse or
// very large entry: minutes). Cancellation now stops the copy within a
// few reads.
func TestReadStopsInsideAnEntry(t *testing.T) {
	const size = 1 << 30
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	body := &endless{after: 256 << 10, at: cancel}
	tr := tar.NewReader(io.MultiReader(&hdr, body))
	_, err := read(ctx, tr, testWriter(t, Limits{}), DefaultLimits, readHooks{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if n := body.n.Load(); n > 2<<20 {
		t.Fatalf("read %d bytes of the entry after it was cancelled at 256 KiB", n)
	}
}

// TestReadBoundsNames reproduces issue 12, finding 11: entry names and
// link targets were kept without a bound. Each is at most 4096 bytes, and
// all of them count against Limits.MaxMetadataBytes.
func TestReadBoundsNames(t *testing.T) {
	lim := Limits{MaxMetadataBytes: 256 << 10}.withDefaults()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := range 200 {
		name := strings.Repeat("d/", 1000) + string(rune('a'+i%26)) + strings.Repeat("x", i)
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: strings.Repeat("l/", 1000)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := read(t.Context(), tar.NewReader(&buf), testWriter(t, lim), lim, readHooks{})
	var e errcode.Error
	if !errors.As(err, &e) || e.Code != ErrUploadTooLarge || !strings.Contains(e.Message, "entry names") {
		t.Fatalf("got %v, want UPLOAD_TOO_LARGE for the names", err)
	}
}

// TestStoreBoundsACompressedLayer reproduces issue 12, finding 11: a
// compressed layer inside a plain tar was inflated without any bound to
// compute its diff_id. Its decompression is now bounded by ratio and by
// size, like the archive's.
func TestStoreBoundsACompressedLayer(t *testing.T) {
	var zeros bytes.Buffer
	zw := gzip.NewWriter(&zeros)
	if _, err := zw.Write(make([]byte, 16<<20)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		lim  Limits
		want string
	}{
		{"ratio", Limits{MaxRatio: 100}, "upload.maxratio"},
		{"size", Limits{MaxRatio: 1 << 20, MaxDecompressedBytes: 8 << 20}, "upload.maxdecompressedbytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := testWriter(t, c.lim)
			_, err := w.store(t.Context(), bytes.NewReader(zeros.Bytes()))
			var e errcode.Error
			if !errors.As(err, &e) || e.Code != ErrUploadTooLarge || !strings.Contains(e.Message, c.want) {
				t.Fatalf("got %v, want UPLOAD_TOO_LARGE naming %s", err, c.want)
			}
		})
	}
}
