package diffid_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/internal/testutil/compressed"
)

// TestUncompressedLayerTakesTheBlobDigest: the diff_id of a layer stored
// uncompressed is its blob digest (the registry verified it at upload), so
// its bytes are read for the tap and the limits but not hashed again. The
// test names the plain blob by a digest that is not its bytes' to tell
// the two apart: the resolver answers that digest. A compressed layer, or
// a diff_id in another algorithm, is still computed from the bytes.
func TestUncompressedLayerTakesTheBlobDigest(t *testing.T) {
	data := []byte(strings.Repeat("plain tar ", 30000))
	stored := digest.FromString("the name the registry verified")
	open := func(b []byte) diffid.Opener {
		return func(context.Context, digest.Digest) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		}
	}
	r := diffid.NewResolver(diffid.NewDriverStore(inmemory.New()), diffid.Limits{}, 1)
	tap := &recordingTap{}
	r.SetTap(tap)
	if got, err := r.DiffID(t.Context(), stored, digest.SHA256, open(data)); err != nil || got != stored {
		t.Fatalf("plain layer: diff_id %s (%v), want the blob digest %s", got, err, stored)
	}
	if len(tap.sinks) != 1 || !bytes.Equal(tap.sinks[0].buf.Bytes(), data) || tap.sinks[0].err != nil {
		t.Fatal("the tap did not receive the plain layer's bytes")
	}
	if got, err := r.DiffID(t.Context(), stored, digest.SHA512, open(data)); err != nil || got != digest.SHA512.FromBytes(data) {
		t.Fatalf("plain layer, sha512 diff_id: %s (%v)", got, err)
	}
	gz := compressed.Gzip(t, data)
	if got, err := r.DiffID(t.Context(), digest.FromBytes(gz), digest.SHA256, open(gz)); err != nil || got != digest.FromBytes(data) {
		t.Fatalf("gzip layer: diff_id %s (%v)", got, err)
	}
	limited := diffid.NewResolver(diffid.NewDriverStore(inmemory.New()), diffid.Limits{MaxBytes: int64(len(data) - 1)}, 1)
	if _, err := limited.DiffID(t.Context(), stored, digest.SHA256, open(data)); err == nil {
		t.Fatal("a plain layer over the size limit was accepted")
	}
}

// countingSeeker is a blob that counts the bytes read from it.
type countingSeeker struct {
	*bytes.Reader
	read int
}

func (c *countingSeeker) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	c.read += n
	return n, err
}

func (c *countingSeeker) Close() error { return nil }

// TestUncompressedLayerIsNotReadWithoutATap: with no tap, a plain layer
// that can seek is sized, not read (beyond the bytes that tell its
// compression), and MaxBytes still applies to it.
func TestUncompressedLayerIsNotReadWithoutATap(t *testing.T) {
	data := []byte(strings.Repeat("plain tar ", 300000))
	stored := digest.FromBytes(data)
	var blob *countingSeeker
	open := func(context.Context, digest.Digest) (io.ReadCloser, error) {
		blob = &countingSeeker{Reader: bytes.NewReader(data)}
		return blob, nil
	}
	r := diffid.NewResolver(diffid.NewDriverStore(inmemory.New()), diffid.Limits{}, 1)
	if got, err := r.DiffID(t.Context(), stored, digest.SHA256, open); err != nil || got != stored {
		t.Fatalf("diff_id %s (%v)", got, err)
	}
	if blob.read > 64<<10 {
		t.Fatalf("read %d of %d bytes of a plain layer nobody taps", blob.read, len(data))
	}
	limited := diffid.NewResolver(diffid.NewDriverStore(inmemory.New()), diffid.Limits{MaxBytes: int64(len(data) - 1)}, 1)
	if _, err := limited.DiffID(t.Context(), stored, digest.SHA256, open); !errors.Is(err, diffid.ErrTooLarge) {
		t.Fatalf("a plain layer over MaxBytes: %v, want ErrTooLarge", err)
	}
}
