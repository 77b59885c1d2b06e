package gc

import (
	"context"
	"slices"
	"testing"

	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
)

// fakeBatchDriver is a fake: the in-memory driver plus the DeleteFiles
// method storagedriver/s3 adds, recording each batch.
type fakeBatchDriver struct {
	*inmemory.Driver
	batches [][]string
}

func (f *fakeBatchDriver) DeleteFiles(ctx context.Context, paths []string) error {
	f.batches = append(f.batches, slices.Clone(paths))
	for _, p := range paths {
		_ = f.Driver.Delete(ctx, p)
	}
	return nil
}

// TestDeleteBlobsBatches: with a driver that deletes in batches, a sweep
// sends exactly the data paths of its blobs, each after its derived
// objects, in one call; without, each blob's folder is deleted; absent
// blobs are no error.
func TestDeleteBlobsBatches(t *testing.T) {
	ctx := t.Context()
	blobs := []BlobCandidate{{Digest: digest.FromString("a")}, {Digest: digest.FromString("b")}}
	for _, batch := range []bool{true, false} {
		mem := inmemory.New()
		for _, b := range blobs {
			if err := mem.PutContent(ctx, blobDataPath(b.Digest), []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		c := &Collector{opts: Options{Driver: mem}}
		fake := &fakeBatchDriver{Driver: mem}
		if batch {
			c.opts.Driver = fake
		}
		if err := c.deleteBlobs(ctx, append(blobs, BlobCandidate{Digest: digest.FromString("absent")})); err != nil {
			t.Fatalf("batch %v: %v", batch, err)
		}
		for _, b := range blobs {
			if _, err := mem.Stat(ctx, blobDataPath(b.Digest)); err == nil {
				t.Fatalf("batch %v: %s still stored", batch, b.Digest)
			}
		}
		if !batch {
			continue
		}
		// One call: per blob, its derived objects, then its data.
		var want []string
		for _, b := range append(blobs, BlobCandidate{Digest: digest.FromString("absent")}) {
			want = append(append(want, derivedPaths(b.Digest)...), blobDataPath(b.Digest))
		}
		if len(fake.batches) != 1 || !slices.Equal(fake.batches[0], want) {
			t.Fatalf("batches %v, want [%v]", fake.batches, want)
		}
	}
}

// TestBlobDigest: only distribution's blob data paths name a blob.
func TestBlobDigest(t *testing.T) {
	d := digest.FromString("x")
	if got, ok := blobDigest(blobDataPath(d)); !ok || got != d {
		t.Fatalf("blobDigest(%s) = %s, %v", blobDataPath(d), got, ok)
	}
	for _, p := range []string{
		"/docker/registry/v2/blobs/sha256/ab/notahex/data",
		"/docker/registry/v2/blobs/sha256/" + d.Encoded()[:2] + "/" + d.Encoded() + "/other",
		"/docker/registry/v2/repositories/x/_layers/sha256/" + d.Encoded() + "/link",
		"/docker/registry/v2/blobs/md5/ab/abcd/data",
	} {
		if _, ok := blobDigest(p); ok {
			t.Errorf("blobDigest(%q) named a blob", p)
		}
	}
}
