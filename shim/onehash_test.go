package shim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/ingest"
	"github.com/imagegate/imagegate/storagedriver/fs"
)

// fedBlobs is distribution's blob store, counting the bytes written to
// the blob writers it hands out: each of those bytes is hashed by
// distribution's digester.
type fedBlobs struct {
	distribution.BlobStore
	fed atomic.Int64
}

func (b *fedBlobs) Create(ctx context.Context, opts ...distribution.BlobCreateOption) (distribution.BlobWriter, error) {
	bw, err := b.BlobStore.Create(ctx, opts...)
	if err != nil {
		return nil, err
	}
	return &fedWriter{BlobWriter: bw, fed: &b.fed}, nil
}

func (b *fedBlobs) Resume(ctx context.Context, id string) (distribution.BlobWriter, error) {
	bw, err := b.BlobStore.Resume(ctx, id)
	if err != nil {
		return nil, err
	}
	return &fedWriter{BlobWriter: bw, fed: &b.fed}, nil
}

type fedWriter struct {
	distribution.BlobWriter
	fed *atomic.Int64
}

func (w *fedWriter) Write(p []byte) (int, error) {
	n, err := w.BlobWriter.Write(p)
	w.fed.Add(int64(n))
	return n, err
}

func (w *fedWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := w.BlobWriter.ReadFrom(r)
	w.fed.Add(n)
	return n, err
}

// fsWriter is a blob writer into a registry on imagegate's filesystem
// driver in a temporary directory — with ingest's one-hash uploads when
// oneHash, else through distribution's writer (the fallback, as on S3) —
// and the store under it, counting what distribution's writers hash.
func fsWriter(t *testing.T, c Compression, oneHash bool) (*blobWriter, *fedBlobs) {
	t.Helper()
	driver := fs.New(t.TempDir())
	reg, err := storage.NewRegistry(t.Context(), driver, storage.EnableDelete)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := reference.WithName(stagingRoot + "onehash")
	repo, err := reg.Repository(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	blobs := &fedBlobs{BlobStore: repo.Blobs(t.Context())}
	w := &blobWriter{blobs: blobs, repo: name.Name(), compression: c, lim: DefaultLimits, global: reg.BlobStatter()}
	if oneHash {
		w.oneHash = ingest.New(driver, slog.New(slog.DiscardHandler))
	}
	return w, blobs
}

// readBlob is the content of blob d in blobs.
func readBlob(t *testing.T, blobs distribution.BlobStore, d digest.Digest) []byte {
	t.Helper()
	rc, err := blobs.Open(t.Context(), d)
	if err != nil {
		t.Fatalf("opening blob %s: %v", d, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDoorHashesEachStoredByteOnce: with ingest's uploads no byte the
// door stores goes through distribution's blob writer (whose digester
// would hash it a second time), and each blob is stored under the
// digest of its bytes, the same blob as through distribution's writer
// (the fallback, which is fed every byte): a layer compressed by the
// door, a layer stored as it is, a gzip layer, another file.
func TestDoorHashesEachStoredByteOnce(t *testing.T) {
	layer := layersTar(t, 1, 3<<20)
	for _, c := range []struct {
		name        string
		compression Compression
		file        []byte
	}{
		{"tar gzipped", Gzip, layer},
		{"tar as it is", None, layer},
		{"gzip layer", Gzip, gzipOf(t, layer)},
		{"other file", Gzip, bytes.Repeat([]byte(`{"config": true}`), 1<<16)},
	} {
		t.Run(c.name, func(t *testing.T) {
			var blobs [2]digest.Digest
			for i, oneHash := range []bool{true, false} {
				w, store := fsWriter(t, c.compression, oneHash)
				st, err := w.store(t.Context(), bytes.NewReader(c.file))
				if err != nil {
					t.Fatal(err)
				}
				got := readBlob(t, store, st.blob)
				if digest.FromBytes(got) != st.blob || int64(len(got)) != st.blobSize {
					t.Fatalf("one hash %v: blob %s holds %d bytes of digest %s", oneHash, st.blob, len(got), digest.FromBytes(got))
				}
				want := int64(0)
				if !oneHash {
					want = st.blobSize
				}
				if fed := store.fed.Load(); fed != want {
					t.Errorf("one hash %v: %d bytes fed to distribution's writers, want %d", oneHash, fed, want)
				}
				blobs[i] = st.blob
			}
			if blobs[0] != blobs[1] {
				t.Errorf("stored as %s with one hash, %s through distribution's writer: want the same blob", blobs[0], blobs[1])
			}
		})
	}
}

// TestDoorCommitRefusesAMismatch: a blob committed under a digest that
// is not its bytes' is refused on both paths and not stored.
func TestDoorCommitRefusesAMismatch(t *testing.T) {
	data := bytes.Repeat([]byte("stored bytes\n"), 1<<16)
	wrong := digest.FromString("other bytes")
	for _, oneHash := range []bool{true, false} {
		w, store := fsWriter(t, None, oneHash)
		c := w.create(t.Context())
		if _, err := c.Write(data); err != nil {
			t.Fatal(err)
		}
		up, err := c.upload()
		if err != nil {
			t.Fatal(err)
		}
		st := &stored{blob: wrong, blobSize: int64(len(data)), sum: sumOf(data)}
		err = w.commit(t.Context(), up, st)
		var invalid distribution.ErrBlobInvalidDigest
		if !errors.As(err, &invalid) {
			t.Errorf("one hash %v: commit under a wrong digest: %v, want %T", oneHash, err, invalid)
		}
		_ = up.Cancel(context.WithoutCancel(t.Context()))
		for _, d := range []digest.Digest{wrong, digest.FromBytes(data)} {
			if _, err := store.Stat(t.Context(), d); !errors.Is(err, distribution.ErrBlobUnknown) {
				t.Errorf("one hash %v: blob %s after a refused commit: %v, want unknown", oneHash, d, err)
			}
		}
	}
}

func sumOf(p []byte) hash.Hash {
	h := sha256.New()
	h.Write(p)
	return h
}
