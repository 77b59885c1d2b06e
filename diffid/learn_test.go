package diffid_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/internal/testutil/compressed"
)

// pendingTap keeps what each pending sink received and how it finished.
type pendingTap struct{ sinks []*pendingSink }

func (t *pendingTap) Begin(context.Context) diffid.PendingSink {
	s := &pendingSink{}
	t.sinks = append(t.sinks, s)
	return s
}

type pendingSink struct {
	buf      bytes.Buffer
	finished int
	blob     digest.Digest
	err      error
}

func (s *pendingSink) Write(p []byte) (int, error) { return s.buf.Write(p) }
func (s *pendingSink) Finish(blob digest.Digest, err error) {
	s.finished++
	s.blob, s.err = blob, err
}

// tarOf is a tar holding one file of content.
func tarOf(t *testing.T, content []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: "f", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// learn writes blob to a new Learner in pieces of n bytes and ends it.
func learn(t *testing.T, r *diffid.Resolver, tap diffid.PendingTap, blob []byte, n int) (*diffid.Learner, error) {
	t.Helper()
	l := r.Learn(t.Context(), tap)
	for p := blob; len(p) > 0; p = p[min(n, len(p)):] {
		if _, err := l.Write(p[:min(n, len(p))]); err != nil {
			return l, err
		}
	}
	return l, l.End()
}

// TestLearnerRemembersOnCommit: a gzip, zstd or plain tar upload's
// diff_id and uncompressed bytes are learnt as they are written (pieces
// smaller than the sniffed head included), and remembered only at Commit,
// under the blob digest given; DiffID then reads nothing.
func TestLearnerRemembersOnCommit(t *testing.T) {
	layer := tarOf(t, bytes.Repeat([]byte("learnt while uploaded "), 5000))
	for _, tc := range []struct {
		name  string
		blob  []byte
		piece int
	}{
		{"gzip", compressed.Gzip(t, layer), 100},
		{"zstd", compressed.Zstd(t, layer), 1 << 20},
		{"plain tar", layer, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := diffid.NewDriverStore(inmemory.New())
			r := diffid.NewResolver(store, diffid.Limits{MaxBytes: 1 << 30, MaxRatio: 100}, 1)
			tap := &pendingTap{}
			l, err := learn(t, r, tap, tc.blob, tc.piece)
			if err != nil {
				t.Fatalf("learning: %v", err)
			}
			blob := digest.FromBytes(tc.blob)
			if _, ok, _ := store.Get(t.Context(), blob, digest.SHA256); ok {
				t.Fatal("remembered before the commit")
			}
			if err := l.Commit(t.Context(), blob); err != nil {
				t.Fatal(err)
			}
			got, ok, err := store.Get(t.Context(), blob, digest.SHA256)
			if err != nil || !ok || got != digest.FromBytes(layer) {
				t.Fatalf("remembered %s %v %v, want %s", got, ok, err, digest.FromBytes(layer))
			}
			if len(tap.sinks) != 1 || !bytes.Equal(tap.sinks[0].buf.Bytes(), layer) || tap.sinks[0].finished != 1 ||
				tap.sinks[0].blob != blob || tap.sinks[0].err != nil {
				t.Fatalf("tap: %d sinks, want one with the layer finished once as %s", len(tap.sinks), blob)
			}
			d, err := r.DiffID(t.Context(), blob, digest.SHA256, func(context.Context, digest.Digest) (io.ReadCloser, error) {
				t.Fatal("the layer was read again")
				return nil, nil
			})
			if err != nil || d != digest.FromBytes(layer) {
				t.Fatalf("DiffID %s %v", d, err)
			}
		})
	}
}

// TestLearnerLearnsNothingWrong: content that is no layer stops the
// Learner at its first bytes; a corrupt stream and a decompression bomb
// stop it with DiffID's errors; a Discard — a digest that did not verify
// — leaves nothing remembered and finishes the tap's sink with an error.
func TestLearnerLearnsNothingWrong(t *testing.T) {
	corrupt := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, bytes.Repeat([]byte{0xee}, 4096)...)
	bomb := compressed.Gzip(t, make([]byte, 80<<20))
	for _, tc := range []struct {
		name    string
		blob    []byte
		want    error // nil: End succeeds, then Discard
		sniffed bool  // the tap got a sink
	}{
		{"image config", []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`), nil, false},
		{"random bytes", bytes.Repeat([]byte{0x42, 0x17}, 4096), nil, false},
		{"corrupt gzip", corrupt, diffid.ErrCorrupt, true},
		{"decompression bomb", bomb, diffid.ErrTooLarge, true},
		{"discarded after its end", compressed.Gzip(t, tarOf(t, []byte("x"))), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := diffid.NewDriverStore(inmemory.New())
			r := diffid.NewResolver(store, diffid.Limits{MaxBytes: 1 << 30, MaxRatio: 100}, 1)
			tap := &pendingTap{}
			l, err := learn(t, r, tap, tc.blob, 1<<20)
			switch {
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("learning: %v, want %v", err, tc.want)
			case tc.want == nil && tc.sniffed && err != nil:
				t.Fatalf("learning: %v", err)
			case !tc.sniffed && err == nil:
				t.Fatal("learning content that is no layer succeeded")
			}
			l.Discard()
			if _, ok, _ := store.Get(t.Context(), digest.FromBytes(tc.blob), digest.SHA256); ok {
				t.Fatal("a discarded upload was remembered")
			}
			if got := len(tap.sinks); got != map[bool]int{false: 0, true: 1}[tc.sniffed] {
				t.Fatalf("%d sinks", got)
			}
			for _, s := range tap.sinks {
				if s.finished != 1 || s.err == nil || s.blob != "" {
					t.Fatalf("sink finished %d times with %q %v, want once with an error", s.finished, s.blob, s.err)
				}
			}
			if err := l.Commit(t.Context(), digest.FromBytes(tc.blob)); err == nil {
				t.Fatal("a discarded Learner committed")
			}
		})
	}
}

// TestLearnerPlainTarWithoutTap: a plain tar's diff_id is its digest,
// which DiffID finds without reading: with no tap there is nothing to
// learn, and the Learner says so at once.
func TestLearnerPlainTarWithoutTap(t *testing.T) {
	r := diffid.NewResolver(diffid.NewDriverStore(inmemory.New()), diffid.Limits{}, 1)
	if _, err := learn(t, r, nil, tarOf(t, []byte("plain")), 1<<20); err == nil {
		t.Fatal("a plain tar without a tap was learnt")
	}
}

// TestLearnerLeavesBigWindowsToTheManifest: a zstd layer whose frames
// declare more history than TapZstdWindow but no more than the gate's 64
// MiB (32 MiB: zstd --ultra -21) stops its Learner with ErrTapWindow,
// nothing is remembered, and DiffID reads it as before and gets its
// diff_id.
func TestLearnerLeavesBigWindowsToTheManifest(t *testing.T) {
	layer := tarOf(t, bytes.Repeat([]byte("a layer compressed with a large window "), 1<<15))
	var b bytes.Buffer
	zw, err := zstd.NewWriter(&b, zstd.WithWindowSize(32<<20))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(layer); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	blob, bd := b.Bytes(), digest.FromBytes(b.Bytes())
	store := diffid.NewDriverStore(inmemory.New())
	r := diffid.NewResolver(store, diffid.Limits{MaxBytes: 1 << 30, MaxRatio: 100}, 1)
	tap := &pendingTap{}
	l, err := learn(t, r, tap, blob, 1<<20)
	if !errors.Is(err, diffid.ErrTapWindow) || errors.Is(err, diffid.ErrCorrupt) {
		t.Fatalf("learning: %v, want ErrTapWindow (not ErrCorrupt)", err)
	}
	if err := l.Commit(t.Context(), bd); err == nil {
		t.Fatal("a Learner that gave up committed")
	}
	if _, ok, _ := store.Get(t.Context(), bd, digest.SHA256); ok {
		t.Fatal("remembered what the tap gave up on")
	}
	if len(tap.sinks) != 1 || tap.sinks[0].finished != 1 || tap.sinks[0].err == nil {
		t.Fatalf("tap: %d sinks, want one finished once with an error", len(tap.sinks))
	}
	reads := 0
	d, err := r.DiffID(t.Context(), bd, digest.SHA256, func(context.Context, digest.Digest) (io.ReadCloser, error) {
		reads++
		return io.NopCloser(bytes.NewReader(blob)), nil
	})
	if err != nil || d != digest.FromBytes(layer) || reads != 1 {
		t.Fatalf("DiffID %s %v after %d reads, want %s after 1", d, err, reads, digest.FromBytes(layer))
	}
}
