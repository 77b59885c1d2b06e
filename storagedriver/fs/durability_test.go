package fs

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// syncLog records the fsyncs of files and directories, in order.
type syncLog struct {
	mu     sync.Mutex
	events []string
}

func observeSyncs(t *testing.T) *syncLog {
	l := &syncLog{}
	file, dir := syncFile, syncDir
	syncFile = func(f *os.File) error {
		l.mu.Lock()
		l.events = append(l.events, "file "+f.Name())
		l.mu.Unlock()
		return file(f)
	}
	syncDir = func(d string) error {
		l.mu.Lock()
		l.events = append(l.events, "dir "+d)
		l.mu.Unlock()
		return dir(d)
	}
	t.Cleanup(func() { syncFile, syncDir = file, dir })
	return l
}

// index is the position of the first event equal to e, -1 if none.
func (l *syncLog) index(e string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Index(l.events, e)
}

func uploadBlob(t *testing.T, root string, content []byte, dgst digest.Digest) (v1.Descriptor, error) {
	t.Helper()
	ctx := context.Background()
	ns, err := storage.NewRegistry(ctx, New(root), storage.EnableDelete)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := reference.WithName("durability/test")
	repo, err := ns.Repository(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	w, err := repo.Blobs(ctx).Create(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.ReadFrom(bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	return w.Commit(ctx, v1.Descriptor{Digest: dgst})
}

// When distribution's blob writer commits an upload through this driver
// (what happens before a 201), the blob's bytes were fsynced, then renamed
// into blobs/, and the directory holding the new name — and those created
// for it — were fsynced after the rename. This is the ordering a crash
// test by process kill cannot observe (the page cache survives it).
func TestCommitFsyncsDataThenDirectories(t *testing.T) {
	root := t.TempDir()
	log := observeSyncs(t)
	content := make([]byte, bufSize+1234)
	rand.Read(content)
	dgst := digest.FromBytes(content)
	if _, err := uploadBlob(t, root, content, dgst); err != nil {
		t.Fatalf("commit: %v", err)
	}
	blobDir := filepath.Join(root, "docker/registry/v2/blobs/sha256", dgst.Encoded()[:2], dgst.Encoded())
	got, err := os.ReadFile(filepath.Join(blobDir, "data"))
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("blob data: %d bytes, %v", len(got), err)
	}
	dataSync := -1
	for i, e := range log.events {
		if strings.HasPrefix(e, "file ") && strings.HasSuffix(e, "/data") && strings.Contains(e, "/_uploads/") {
			dataSync = i
		}
	}
	if dataSync < 0 {
		t.Fatalf("the upload's data file was never fsynced: %q", log.events)
	}
	for _, d := range []string{blobDir, filepath.Dir(blobDir), filepath.Dir(filepath.Dir(blobDir))} {
		if i := log.index("dir " + d); i < dataSync {
			t.Fatalf("directory %s not fsynced after the data (at %d, data at %d): %q", d, i, dataSync, log.events)
		}
	}
}

// A digest that does not match the bytes is refused and nothing is
// stored under either digest.
func TestCommitRefusesDigestMismatch(t *testing.T) {
	root := t.TempDir()
	content := make([]byte, 3*bufSize+5)
	rand.Read(content)
	wrong := digest.FromString("something else")
	_, err := uploadBlob(t, root, content, wrong)
	var invalid distribution.ErrBlobInvalidDigest
	if !errors.As(err, &invalid) {
		t.Fatalf("commit with a wrong digest: %v, want ErrBlobInvalidDigest", err)
	}
	for _, d := range []digest.Digest{wrong, digest.FromBytes(content)} {
		p := filepath.Join(root, "docker/registry/v2/blobs/sha256", d.Encoded()[:2], d.Encoded(), "data")
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s stored after a refused commit: %v", d, err)
		}
	}
}
