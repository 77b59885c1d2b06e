package analysis_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/analysis"
	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/internal/testutil/compressed"
	"github.com/imagegate/imagegate/layers"
)

// tarOf is a layer tar of files (name → size).
func tarOf(t *testing.T, files ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		size := int64(files[i+1].(int))
		if err := tw.WriteHeader(&tar.Header{Name: files[i].(string), Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(make([]byte, size))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// blobs is a blob store that counts opens.
type blobs struct {
	mu    sync.Mutex
	m     map[digest.Digest][]byte
	opens atomic.Int32
}

func (b *blobs) add(data []byte) v1.Descriptor {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[digest.Digest][]byte{}
	}
	d := digest.FromBytes(data)
	b.m[d] = data
	return v1.Descriptor{MediaType: v1.MediaTypeImageLayerGzip, Digest: d, Size: int64(len(data))}
}

func (b *blobs) open(_ context.Context, d digest.Digest) (io.ReadCloser, error) {
	b.opens.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.m[d]
	if !ok {
		return nil, fmt.Errorf("blob %s unknown", d)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// TestOneReadPerLayer: layers whose diff_id the resolver verifies are
// indexed in that read (no second open); a layer whose diff_id was known
// before (pushed before analysis existed) is read once more, and then
// never again.
func TestOneReadPerLayer(t *testing.T) {
	driver := inmemory.New()
	store := diffid.NewDriverStore(driver)
	resolver := diffid.NewResolver(store, diffid.Limits{}, 1)
	a := analysis.New(layers.NewDriverStore(driver), resolver, layers.Limits{})
	resolver.SetTap(a)
	var bs blobs
	base := tarOf(t, "etc/os-release", 1000, "app/data", 5000)
	top := tarOf(t, "app/data", 5000)
	l1, l2 := bs.add(compressed.Gzip(t, base)), bs.add(compressed.Gzip(t, top))
	// l1's diff_id is known from before: nothing indexed it.
	if err := resolver.Remember(t.Context(), l1.Digest, digest.FromBytes(base)); err != nil {
		t.Fatal(err)
	}
	for _, l := range []v1.Descriptor{l1, l2} {
		if _, err := resolver.DiffID(t.Context(), l.Digest, digest.SHA256, bs.open); err != nil {
			t.Fatal(err)
		}
	}
	if n := bs.opens.Load(); n != 1 {
		t.Fatalf("diff_ids opened %d blobs, want 1 (l2)", n)
	}
	img := analysis.Image{Layers: []v1.Descriptor{l1, l2}, Open: bs.open,
		History: []v1.History{{CreatedBy: "ADD base"}, {CreatedBy: "ENV X=1", EmptyLayer: true}, {CreatedBy: "RUN make data"}}}
	r, err := a.Report(t.Context(), img)
	if err != nil {
		t.Fatal(err)
	}
	if n := bs.opens.Load(); n != 2 {
		t.Fatalf("%d opens after the report, want 2 (l1 read once more)", n)
	}
	if shared, again := a.Reads(); shared != 1 || again != 1 {
		t.Fatalf("reads: %d shared, %d again; want 1 and 1", shared, again)
	}
	if r.WastedBytes != 10000 || r.Layers[1].CreatedBy != "RUN make data" || r.Layers[0].CreatedBy != "ADD base" {
		t.Fatalf("wasted %d, commands %q %q", r.WastedBytes, r.Layers[0].CreatedBy, r.Layers[1].CreatedBy)
	}
	// Both indexes are kept now: a second analysis reads no blob.
	fresh := analysis.New(layers.NewDriverStore(driver), resolver, layers.Limits{})
	if _, err := fresh.Report(t.Context(), img); err != nil || bs.opens.Load() != 2 {
		t.Fatalf("second report: %v, %d opens", err, bs.opens.Load())
	}
}

// TestUnanalysable: a layer past a limit or not a tar is the pusher's
// problem (an *UnanalysableError naming the layer), found in the diff_id
// read and not read again to find it out; a storage failure is not.
func TestUnanalysable(t *testing.T) {
	driver := inmemory.New()
	resolver := diffid.NewResolver(diffid.NewDriverStore(driver), diffid.Limits{}, 1)
	a := analysis.New(layers.NewDriverStore(driver), resolver, layers.Limits{MaxEntries: 2})
	resolver.SetTap(a)
	var bs blobs
	many := bs.add(compressed.Gzip(t, tarOf(t, "a", 1, "b", 1, "c", 1)))
	if _, err := resolver.DiffID(t.Context(), many.Digest, digest.SHA256, bs.open); err != nil {
		t.Fatal(err)
	}
	_, err := a.Report(t.Context(), analysis.Image{Layers: []v1.Descriptor{many}, Open: bs.open})
	var bad *analysis.UnanalysableError
	if !errors.As(err, &bad) || bad.Layer != 0 || bad.Digest != many.Digest || !errors.Is(err, layers.ErrLimit) {
		t.Fatalf("error %v, want an UnanalysableError for layer 0 passing a limit", err)
	}
	if bs.opens.Load() != 1 {
		t.Fatalf("%d opens, want 1", bs.opens.Load())
	}
	missing := v1.Descriptor{Digest: digest.FromString("nowhere"), MediaType: v1.MediaTypeImageLayerGzip}
	if _, err := a.Report(t.Context(), analysis.Image{Layers: []v1.Descriptor{missing}, Open: bs.open}); err == nil || errors.As(err, &bad) {
		t.Fatalf("a missing blob: %v, want a plain (storage) error", err)
	}
	foreign := v1.Descriptor{Digest: digest.FromString("elsewhere"), URLs: []string{"https://example.com/l"}}
	if _, err := a.Report(t.Context(), analysis.Image{Layers: []v1.Descriptor{foreign}, Open: bs.open}); !errors.As(err, &bad) {
		t.Fatalf("a foreign layer: %v", err)
	}
}
