package gc

import (
	"archive/tar"
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/layers"
)

// storedBlob stores content as a blob in d and returns its digest.
func storedBlob(t *testing.T, d storagedriver.StorageDriver, content string) digest.Digest {
	t.Helper()
	dg := digest.FromString(content)
	if err := d.PutContent(t.Context(), blobDataPath(dg), []byte(content)); err != nil {
		t.Fatal(err)
	}
	return dg
}

// oneFileIndex is the layer index of a tar holding one file.
func oneFileIndex(t *testing.T) *layers.LayerIndex {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "etc/motd", Mode: 0o644, Size: 2, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	_, _ = tw.Write([]byte("hi"))
	_ = tw.Close()
	x, err := layers.Index(t.Context(), &buf, layers.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestPassDeletesDerived: a pass that deletes a blob deletes its diff_ids
// and its layer index (read back through their own stores), and a blob
// the pass keeps keeps both — with a driver deleting in batches (S3) and
// with one deleting folders (filesystem).
func TestPassDeletesDerived(t *testing.T) {
	for _, batch := range []bool{true, false} {
		name := map[bool]string{true: "batch", false: "folders"}[batch]
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			mem := inmemory.New()
			var driver storagedriver.StorageDriver = mem
			fake := &fakeBatchDriver{Driver: mem}
			if batch {
				driver = fake
			}
			ns, err := storage.NewRegistry(ctx, driver, storage.EnableDelete)
			if err != nil {
				t.Fatal(err)
			}
			store := fleet.NewMemory(0)
			kept, gone := storedBlob(t, mem, "kept layer"), storedBlob(t, mem, "gone layer")
			m := storedBlob(t, mem, "manifest")
			if err := NewRefs(store).Put(ctx, Entry{Repository: "team/app", Manifest: m, Blobs: []digest.Digest{m, kept}, Written: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if err := mem.PutContent(ctx, "/docker/registry/v2/repositories/team/app/_manifests/tags/v1/current/link", []byte(m)); err != nil {
				t.Fatal(err)
			}
			diffIDs, indexes := diffid.NewDriverStore(mem), layers.NewDriverStore(mem)
			x := oneFileIndex(t)
			for _, b := range []digest.Digest{kept, gone} {
				for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
					if err := diffIDs.Put(ctx, b, alg.FromString("tar of "+b.String())); err != nil {
						t.Fatal(err)
					}
				}
				if err := indexes.Put(ctx, b, x); err != nil {
					t.Fatal(err)
				}
			}
			later := func() time.Time { return time.Now().Add(48 * time.Hour) }
			c, err := New(Options{Store: store, Namespace: ns, Driver: driver, Now: later})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Backfill(ctx); err != nil {
				t.Fatal(err)
			}
			res, err := c.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if res.Blobs != 1 {
				t.Fatalf("deleted %d blobs, want 1 (%s): %+v", res.Blobs, gone, res)
			}
			if batch && len(fake.batches) != 1 {
				t.Fatalf("%d batch calls, want 1", len(fake.batches))
			}
			for _, b := range []digest.Digest{kept, gone} {
				want := b == kept
				_, err := mem.Stat(ctx, blobDataPath(b))
				var notFound storagedriver.PathNotFoundError
				if err != nil && !errors.As(err, &notFound) {
					t.Fatal(err)
				}
				if stored := err == nil; stored != want {
					t.Errorf("blob %s stored: %v, want %v", b, stored, want)
				}
				for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
					if _, ok, err := diffIDs.Get(ctx, b, alg); err != nil || ok != want {
						t.Errorf("blob %s: %s diff_id remembered: %v (%v), want %v", b, alg, ok, err, want)
					}
				}
				if _, ok, err := indexes.Get(ctx, b); err != nil || ok != want {
					t.Errorf("blob %s: layer index remembered: %v (%v), want %v", b, ok, err, want)
				}
			}
		})
	}
}
