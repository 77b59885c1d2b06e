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

func TestCompute(t *testing.T) {
	data := []byte(strings.Repeat("a tar stream, more or less ", 1000))
	want := digest.FromBytes(data)
	for _, tc := range []struct {
		name string
		blob []byte
		c    diffid.Compression
	}{
		{"plain", data, diffid.None},
		{"gzip", compressed.Gzip(t, data), diffid.Gzip},
		{"zstd", compressed.Zstd(t, data), diffid.Zstd},
		{"gzip, two members", append(compressed.Gzip(t, data[:100]), compressed.Gzip(t, data[100:])...), diffid.Gzip},
		{"empty", nil, diffid.None},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := diffid.Compute(t.Context(), bytes.NewReader(tc.blob), diffid.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			w, n := want, int64(len(data))
			if tc.blob == nil {
				w, n = digest.FromBytes(nil), 0
			}
			if l.DiffID != w || l.Size != n || l.Compression != tc.c {
				t.Fatalf("got %+v, want %s %d %s", l, w, n, tc.c)
			}
		})
	}
}

func TestComputeRefuses(t *testing.T) {
	zeros := make([]byte, 100<<20)
	bomb := compressed.Gzip(t, zeros)
	truncated := compressed.Gzip(t, []byte(strings.Repeat("x", 10000)))
	truncated = truncated[:len(truncated)/2]
	for _, tc := range []struct {
		name  string
		blob  []byte
		lim   diffid.Limits
		check func(error) bool
	}{
		{"bomb by ratio", bomb, diffid.Limits{MaxRatio: 100}, func(err error) bool {
			var le *diffid.LimitError
			return errors.As(err, &le) && le.Ratio && le.Limit == 100 && errors.Is(err, diffid.ErrTooLarge)
		}},
		{"too large", zeros[:5000], diffid.Limits{MaxBytes: 4096}, func(err error) bool {
			var le *diffid.LimitError
			return errors.As(err, &le) && !le.Ratio && le.Limit == 4096
		}},
		{"truncated gzip", truncated, diffid.Limits{}, func(err error) bool {
			var ce *diffid.CorruptError
			return errors.As(err, &ce) && ce.Compression == diffid.Gzip && errors.Is(err, diffid.ErrCorrupt)
		}},
		{"gzip magic then garbage", append([]byte{0x1f, 0x8b}, bytes.Repeat([]byte{0xff}, 100)...), diffid.Limits{}, func(err error) bool {
			return errors.Is(err, diffid.ErrCorrupt)
		}},
		{"zstd magic then garbage", append([]byte{0x28, 0xb5, 0x2f, 0xfd}, bytes.Repeat([]byte{0xff}, 100)...), diffid.Limits{}, func(err error) bool {
			return errors.Is(err, diffid.ErrCorrupt)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := diffid.Compute(t.Context(), bytes.NewReader(tc.blob), tc.lim)
			if err == nil || !tc.check(err) {
				t.Fatalf("error %v (%T)", err, err)
			}
		})
	}
	// Ratio limits do not apply to small layers.
	if _, err := diffid.Compute(t.Context(), bytes.NewReader(compressed.Gzip(t, zeros[:1<<20])), diffid.Limits{MaxRatio: 2}); err != nil {
		t.Fatalf("a 1 MiB layer of zeros: %v", err)
	}
}

// TestComputeStopsWithContext: a cancelled push stops decompressing.
func TestComputeStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	r := &cancelAfter{r: bytes.NewReader(make([]byte, 10<<20)), after: 1 << 20, cancel: cancel}
	_, err := diffid.Compute(ctx, r, diffid.Limits{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if r.read > 2<<20 {
		t.Fatalf("read %d bytes after the cancel", r.read)
	}
}

type cancelAfter struct {
	r      io.Reader
	read   int
	after  int
	cancel func()
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	if c.read >= c.after {
		c.cancel()
	}
	return n, err
}

// TestResolver: a blob is decompressed once; afterwards its diff_id comes
// from the store (here distribution's in-memory driver).
func TestResolver(t *testing.T) {
	data := []byte(strings.Repeat("layer ", 500))
	blob := compressed.Gzip(t, data)
	bd := digest.FromBytes(blob)
	r := diffid.NewResolver(diffid.NewDriverStore(inmemory.New()), diffid.Limits{}, 1)
	var opens atomic.Int32
	open := func(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
		opens.Add(1)
		if d != bd {
			t.Errorf("opened %s", d)
		}
		return io.NopCloser(bytes.NewReader(blob)), nil
	}
	for range 3 {
		got, err := r.DiffID(t.Context(), bd, digest.SHA256, open)
		if err != nil || got != digest.FromBytes(data) {
			t.Fatalf("diff_id %s (%v)", got, err)
		}
	}
	if opens.Load() != 1 {
		t.Fatalf("opened the blob %d times, want 1", opens.Load())
	}
	if got, err := r.DiffID(t.Context(), bd, digest.SHA512, open); err != nil || got != digest.SHA512.FromBytes(data) {
		t.Fatalf("sha512 diff_id %s (%v)", got, err)
	}
	if _, err := r.DiffID(t.Context(), "sha256:nothex", digest.SHA256, open); err == nil {
		t.Fatal("an invalid blob digest was accepted")
	}
}
