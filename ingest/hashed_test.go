package ingest

import (
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/storagedriver/fs"
)

// hashedFixture is a repository of a registry on imagegate's filesystem
// driver in a temporary directory, and an Ingester over the same driver.
type hashedFixture struct {
	root  string
	in    *Ingester
	blobs distribution.BlobStore
}

const hashedRepo = "door/staging"

func newHashedFixture(t *testing.T) *hashedFixture {
	t.Helper()
	root := t.TempDir()
	driver := fs.New(root)
	reg, err := storage.NewRegistry(t.Context(), driver, storage.EnableDelete)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := reference.WithName(hashedRepo)
	repo, err := reg.Repository(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return &hashedFixture{root: root, in: New(driver, slog.New(slog.DiscardHandler)), blobs: repo.Blobs(t.Context())}
}

// write creates a Hashed upload and writes data to it in pieces.
func (f *hashedFixture) write(t *testing.T, data []byte) *Hashed {
	t.Helper()
	u, err := f.in.CreateHashed(t.Context(), f.blobs, hashedRepo)
	if err != nil {
		t.Fatal(err)
	}
	for p := data; len(p) > 0; {
		n := min(len(p), 1<<20+17)
		if _, err := u.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	return u
}

// uploadGone fails t unless upload id's directory was removed.
func (f *hashedFixture) uploadGone(t *testing.T, id string) {
	t.Helper()
	dir := filepath.Join(f.root, filepath.FromSlash(filepath.Dir(uploadDataPath(hashedRepo, id))))
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("upload directory %s: %v, want it removed", dir, err)
	}
}

func sumOf(data []byte) hash.Hash {
	h := sha256.New()
	h.Write(data)
	return h
}

// TestHashedUploadCommitsUnderItsWritersHash: the bytes written are
// stored as the blob of the writer's digest, readable as written, the
// upload cleaned up; distribution resumed the writer's state (the
// Ingester counts the commit) rather than hashing them.
func TestHashedUploadCommitsUnderItsWritersHash(t *testing.T) {
	f := newHashedFixture(t)
	data := randomBytes(7, 5<<20+333)
	u := f.write(t, data)
	want := digest.FromBytes(data)
	desc, err := u.Commit(t.Context(), v1.Descriptor{Digest: want, Size: int64(len(data))}, sumOf(data))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != want || desc.Size != int64(len(data)) {
		t.Fatalf("committed %s (%d bytes), want %s (%d)", desc.Digest, desc.Size, want, len(data))
	}
	if got := f.in.hashed.Load(); got != 1 {
		t.Errorf("hashed commits = %d, want 1", got)
	}
	rc, err := f.blobs.Open(t.Context(), want)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	stored, err := io.ReadAll(rc)
	if err != nil || digest.FromBytes(stored) != want {
		t.Fatalf("stored blob: %d bytes, %v; want the %d bytes written", len(stored), err, len(data))
	}
	f.uploadGone(t, u.ID())
}

// TestHashedUploadCommitsAnEmptyBlob: no Write at all is the empty blob.
func TestHashedUploadCommitsAnEmptyBlob(t *testing.T) {
	f := newHashedFixture(t)
	u := f.write(t, nil)
	if _, err := u.Commit(t.Context(), v1.Descriptor{Digest: digest.FromBytes(nil)}, sha256.New()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.blobs.Stat(t.Context(), digest.FromBytes(nil)); err != nil {
		t.Fatal(err)
	}
}

// TestHashedUploadRefusesAMismatch: a descriptor whose digest is not the
// writer's hash, a hash of other bytes than those written, or a size
// other than the bytes written: distribution refuses the commit, and no
// blob is stored.
func TestHashedUploadRefusesAMismatch(t *testing.T) {
	data := randomBytes(8, 3<<20)
	other := randomBytes(9, 3<<20)
	for _, c := range []struct {
		name string
		desc v1.Descriptor
		sum  hash.Hash
		want error
	}{
		{"digest of other bytes", v1.Descriptor{Digest: digest.FromBytes(other), Size: int64(len(data))}, sumOf(data), distribution.ErrBlobInvalidDigest{}},
		{"hash of other bytes", v1.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}, sumOf(other), distribution.ErrBlobInvalidDigest{}},
		{"size", v1.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data)) - 1}, sumOf(data), distribution.ErrBlobInvalidLength},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newHashedFixture(t)
			u := f.write(t, data)
			_, err := u.Commit(t.Context(), c.desc, c.sum)
			var invalid distribution.ErrBlobInvalidDigest
			if _, wantDigest := c.want.(distribution.ErrBlobInvalidDigest); wantDigest && !errors.As(err, &invalid) ||
				!wantDigest && !errors.Is(err, c.want) {
				t.Fatalf("commit: %v, want %T %v", err, c.want, c.want)
			}
			for _, d := range []digest.Digest{digest.FromBytes(data), digest.FromBytes(other)} {
				if _, err := f.blobs.Stat(t.Context(), d); !errors.Is(err, distribution.ErrBlobUnknown) {
					t.Errorf("blob %s after a refused commit: %v, want unknown", d, err)
				}
			}
			if err := u.Cancel(context.WithoutCancel(t.Context())); err != nil {
				t.Fatal(err)
			}
			f.uploadGone(t, u.ID())
			if got := f.in.hashed.Load(); got != 0 {
				t.Errorf("hashed commits = %d, want 0", got)
			}
		})
	}
}

// TestHashedUploadCancel removes the upload, written or not.
func TestHashedUploadCancel(t *testing.T) {
	f := newHashedFixture(t)
	u := f.write(t, randomBytes(10, 1<<20))
	if err := u.Cancel(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.uploadGone(t, u.ID())
}
