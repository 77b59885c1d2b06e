package diffid_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/internal/testutil/compressed"
)

// recordingTap keeps what each sink received and how it was closed.
type recordingTap struct {
	sinks []*recordingSink
	fail  bool // sinks fail their first write
}

func (t *recordingTap) Open(_ context.Context, blob digest.Digest) diffid.Sink {
	s := &recordingSink{blob: blob, fail: t.fail}
	t.sinks = append(t.sinks, s)
	return s
}

type recordingSink struct {
	blob   digest.Digest
	buf    bytes.Buffer
	fail   bool
	closed int
	err    error
}

func (s *recordingSink) Write(p []byte) (int, error) {
	if s.fail {
		return 0, errors.New("sink is full")
	}
	return s.buf.Write(p)
}

func (s *recordingSink) Close(err error) { s.closed++; s.err = err }

// TestTapSeesTheSameRead: the tap receives exactly the uncompressed bytes
// of the one read that computes the diff_id; a remembered blob is not
// read (nor tapped) again; Read reads it once more on request.
func TestTapSeesTheSameRead(t *testing.T) {
	data := []byte(strings.Repeat("tar bytes ", 50000))
	blob := compressed.Gzip(t, data)
	bd := digest.FromBytes(blob)
	r := diffid.NewResolver(diffid.NewDriverStore(inmemory.New()), diffid.Limits{}, 1)
	tap := &recordingTap{}
	r.SetTap(tap)
	var opens atomic.Int32
	open := func(context.Context, digest.Digest) (io.ReadCloser, error) {
		opens.Add(1)
		return io.NopCloser(bytes.NewReader(blob)), nil
	}
	for range 2 {
		if _, err := r.DiffID(t.Context(), bd, digest.SHA256, open); err != nil {
			t.Fatal(err)
		}
	}
	if opens.Load() != 1 || len(tap.sinks) != 1 {
		t.Fatalf("opened %d times, tapped %d times; want 1 and 1", opens.Load(), len(tap.sinks))
	}
	s := tap.sinks[0]
	if s.blob != bd || !bytes.Equal(s.buf.Bytes(), data) || s.closed != 1 || s.err != nil {
		t.Fatalf("sink got %d bytes for %s, closed %d times with %v", s.buf.Len(), s.blob, s.closed, s.err)
	}
	again := &recordingSink{}
	l, err := r.Read(t.Context(), bd, open, again)
	if err != nil || l.DiffID != digest.FromBytes(data) || !bytes.Equal(again.buf.Bytes(), data) || again.closed != 1 {
		t.Fatalf("Read: %+v %v, %d bytes, closed %d", l, err, again.buf.Len(), again.closed)
	}
}

// TestTapCannotBreakTheDiffID: a failing sink does not fail the diff_id,
// and a refused layer closes the sink with the refusal.
func TestTapCannotBreakTheDiffID(t *testing.T) {
	data := []byte(strings.Repeat("x", 10000))
	r := diffid.NewResolver(diffid.NewDriverStore(inmemory.New()), diffid.Limits{MaxBytes: 20000}, 1)
	tap := &recordingTap{fail: true}
	r.SetTap(tap)
	open := func(b []byte) diffid.Opener {
		return func(context.Context, digest.Digest) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		}
	}
	if d, err := r.DiffID(t.Context(), digest.FromBytes(data), digest.SHA256, open(data)); err != nil || d != digest.FromBytes(data) {
		t.Fatalf("diff_id %s, %v", d, err)
	}
	big := make([]byte, 30000)
	_, err := r.DiffID(t.Context(), digest.FromBytes(big), digest.SHA256, open(big))
	if !errors.Is(err, diffid.ErrTooLarge) || len(tap.sinks) != 2 || !errors.Is(tap.sinks[1].err, diffid.ErrTooLarge) || tap.sinks[1].closed != 1 {
		t.Fatalf("error %v; sink closed with %v", err, tap.sinks[len(tap.sinks)-1].err)
	}
}
