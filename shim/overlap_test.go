package shim

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/distribution/reference"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// gatedBlobs is a blob store whose commits wait at a gate the test
// opens, and which records the order of the uploads' creations and of
// their commits' returns.
type gatedBlobs struct {
	distribution.BlobStore
	mu      sync.Mutex
	events  []string
	creates int
	// created is told each Create's ordinal (1, 2, …).
	created chan int
	// commit, when set, is called by the n-th upload's Commit before it
	// commits; its error fails the commit.
	commit func(n int) error
	// create, when set, is called by Create before it creates; its error
	// fails the creation.
	create func() error
}

func (g *gatedBlobs) log(e string) {
	g.mu.Lock()
	g.events = append(g.events, e)
	g.mu.Unlock()
}

func (g *gatedBlobs) Create(ctx context.Context, opts ...distribution.BlobCreateOption) (distribution.BlobWriter, error) {
	if g.create != nil {
		if err := g.create(); err != nil {
			return nil, err
		}
	}
	bw, err := g.BlobStore.Create(ctx, opts...)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.creates++
	n := g.creates
	g.events = append(g.events, fmt.Sprintf("create %d", n))
	g.mu.Unlock()
	select {
	case g.created <- n:
	default:
	}
	return &gatedWriter{BlobWriter: bw, g: g, n: n}, nil
}

type gatedWriter struct {
	distribution.BlobWriter
	g *gatedBlobs
	n int
}

func (w *gatedWriter) Commit(ctx context.Context, d v1.Descriptor) (v1.Descriptor, error) {
	if w.g.commit != nil {
		if err := w.g.commit(w.n); err != nil {
			return v1.Descriptor{}, err
		}
	}
	desc, err := w.BlobWriter.Commit(ctx, d)
	w.g.log(fmt.Sprintf("commit %d", w.n))
	return desc, err
}

// overlapWriter is a blob writer into an in-memory registry without
// resumable digests (see fuzzIngester: with them, a blob written in
// several writes commits with a wrong digest on that driver).
func overlapWriter(t *testing.T, c Compression) *blobWriter {
	t.Helper()
	reg, err := storage.NewRegistry(t.Context(), inmemory.New(), storage.DisableDigestResumption)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := reference.WithName("test/repo")
	repo, err := reg.Repository(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return &blobWriter{blobs: repo.Blobs(t.Context()), compression: c, lim: DefaultLimits, global: reg.BlobStatter()}
}

// layersTar is an archive of n layers (tars) of one text file of about
// size bytes each.
func layersTar(t *testing.T, n, size int) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := range n {
		var layer bytes.Buffer
		lw := tar.NewWriter(&layer)
		text := bytes.Repeat(fmt.Appendf(nil, "layer %d line of text\n", i), size/20)
		if err := lw.WriteHeader(&tar.Header{Name: "etc/text", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(text))}); err != nil {
			t.Fatal(err)
		}
		_, _ = lw.Write(text)
		if err := lw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("l%d/layer.tar", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(layer.Len())}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(layer.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestCommitOverlapsTheNextFile: a stored file's commit runs while the
// archive's next file is read and stored — the first commit is held until
// the second file's upload has been created (in line, the walk would
// wait for the commit forever) — and never more than one commit is
// pending: the third file's upload is created only after the first
// commit returned. read returns when every commit is done.
func TestCommitOverlapsTheNextFile(t *testing.T) {
	for _, c := range []Compression{Gzip, None} {
		t.Run(string(c), func(t *testing.T) {
			w := overlapWriter(t, c)
			g := &gatedBlobs{BlobStore: w.blobs, created: make(chan int, 8)}
			w.blobs = g
			deadline := time.After(20 * time.Second)
			g.commit = func(n int) error {
				if n != 1 {
					return nil
				}
				for {
					select {
					case k := <-g.created:
						if k == 2 {
							return nil
						}
					case <-deadline:
						return errors.New("the second file's upload was not created while the first blob's commit waited")
					}
				}
			}
			a, err := read(t.Context(), tar.NewReader(bytes.NewReader(layersTar(t, 3, 2<<20))), w, DefaultLimits, readHooks{})
			if err != nil {
				t.Fatal(err)
			}
			at := func(e string) int {
				i := slices.Index(g.events, e)
				if i < 0 {
					t.Fatalf("no %q in %v", e, g.events)
				}
				return i
			}
			if at("create 2") > at("commit 1") || at("commit 1") > at("create 3") || at("commit 2") < 0 || at("commit 3") < 0 {
				t.Fatalf("events in this order: %v", g.events)
			}
			if len(w.created) != 3 {
				t.Fatalf("%d blobs noted as created, want 3", len(w.created))
			}
			for name, st := range a.blobs {
				if _, err := w.blobs.Stat(t.Context(), st.blob); err != nil || st.blobSize == 0 {
					t.Fatalf("%s: blob %s (%d bytes) not committed: %v", name, st.blob, st.blobSize, err)
				}
				if want := map[Compression]string{Gzip: formatGzip, None: formatTar}[c]; st.format != want || st.diffID != st.raw {
					t.Fatalf("%s stored as %s with diff_id %s, want %s and the tar's digest %s", name, st.format, st.diffID, want, st.raw)
				}
			}
		})
	}
}

// TestPendingCommitErrorFailsTheRead: the last file's commit runs after
// its copy returned, and its failure is still the upload's.
func TestPendingCommitErrorFailsTheRead(t *testing.T) {
	w := overlapWriter(t, Gzip)
	boom := errors.New("disk gone")
	g := &gatedBlobs{BlobStore: w.blobs, created: make(chan int, 8),
		commit: func(n int) error {
			if n == 2 {
				return boom
			}
			return nil
		}}
	w.blobs = g
	_, err := read(t.Context(), tar.NewReader(bytes.NewReader(layersTar(t, 2, 1<<20))), w, DefaultLimits, readHooks{})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the last commit's error", err)
	}
	if w.ending != nil {
		t.Fatal("read returned with an end pending")
	}
}

// readSignal is a reader that closes at once it has read past after
// bytes.
type readSignal struct {
	r     io.Reader
	n     int
	after int
	at    chan struct{}
}

func (s *readSignal) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if s.n += n; s.n > s.after && s.at != nil {
		close(s.at)
		s.at = nil
	}
	return n, err
}

// TestUploadCreatedWhileTheCopyStarts: a file's upload is created on a
// goroutine of its own while its first bytes are read and compressed —
// the creation here waits until 1 MiB of the archive was read, which in
// line it never would be — and a failed creation fails the read.
func TestUploadCreatedWhileTheCopyStarts(t *testing.T) {
	w := overlapWriter(t, Gzip)
	g := &gatedBlobs{BlobStore: w.blobs, created: make(chan int, 8)}
	w.blobs = g
	in := &readSignal{r: bytes.NewReader(layersTar(t, 2, 4<<20)), after: 1 << 20, at: make(chan struct{})}
	read1 := in.at
	deadline := time.After(20 * time.Second)
	g.create = func() error {
		select {
		case <-read1:
			return nil
		case <-deadline:
			return errors.New("the archive was not read while its first upload was being created")
		}
	}
	a, err := read(t.Context(), tar.NewReader(in), w, DefaultLimits, readHooks{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.blobs) != 2 || len(w.created) != 2 {
		t.Fatalf("%d files stored, %d blobs created; want 2", len(a.blobs), len(w.created))
	}

	boom := errors.New("no space left")
	w = overlapWriter(t, Gzip)
	w.blobs = &gatedBlobs{BlobStore: w.blobs, created: make(chan int, 8), create: func() error { return boom }}
	if _, err := read(t.Context(), tar.NewReader(bytes.NewReader(layersTar(t, 2, 4<<20))), w, DefaultLimits, readHooks{}); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the creation's error", err)
	}
}
