package scantest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/scan"
)

// Blobs is an in-memory blob store standing in for registry storage. It
// counts every Open per digest, so a test can prove which blobs a scan read.
// It is safe for concurrent use.
type Blobs struct {
	mu    sync.Mutex
	data  map[digest.Digest][]byte
	opens map[digest.Digest]int
}

// NewBlobs returns an empty store.
func NewBlobs() *Blobs {
	return &Blobs{data: map[digest.Digest][]byte{}, opens: map[digest.Digest]int{}}
}

// Add stores img's layer blobs (compressed) and config blob.
func (b *Blobs) Add(t testing.TB, img v1.Image) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatalf("scantest: layers: %v", err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatalf("scantest: layer digest: %v", err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("scantest: layer %s: %v", d, err)
		}
		data, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			t.Fatalf("scantest: read layer %s: %v", d, err)
		}
		b.put(digest.Digest(d.String()), data)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatalf("scantest: config: %v", err)
	}
	b.put(digest.FromBytes(cfg), cfg)
}

func (b *Blobs) put(d digest.Digest, data []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.data[d] = data
}

// Open opens a stored blob and counts the call. It fails with ctx's error
// when ctx is done and with an error wrapping fs.ErrNotExist for an unknown
// digest.
func (b *Blobs) Open(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.opens[d]++
	data, ok := b.data[d]
	if !ok {
		return nil, fmt.Errorf("scantest: blob %s: %w", d, fs.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Opens returns how often d was opened.
func (b *Blobs) Opens(d digest.Digest) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.opens[d]
}

// TotalOpens returns how many blobs were opened in all.
func (b *Blobs) TotalOpens() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.opens {
		n += c
	}
	return n
}

// Target stores img (Add) and returns it as a scan target in repo whose
// Open is b.Open.
func (b *Blobs) Target(t testing.TB, repo string, img v1.Image) scan.Target {
	t.Helper()
	b.Add(t, img)
	return NewTarget(t, repo, img, b.Open)
}

// NewTarget returns img as a scan target in repo that opens blobs with open.
func NewTarget(t testing.TB, repo string, img v1.Image,
	open func(context.Context, digest.Digest) (io.ReadCloser, error)) scan.Target {
	t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatalf("scantest: manifest: %v", err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatalf("scantest: parse manifest: %v", err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatalf("scantest: config: %v", err)
	}
	target := scan.Target{
		Repository:  repo,
		Digest:      digest.FromBytes(raw),
		MediaType:   string(m.MediaType),
		RawManifest: raw,
		RawConfig:   cfg,
		Open:        open,
	}
	for _, l := range m.Layers {
		target.Layers = append(target.Layers, scan.Layer{
			Digest: digest.Digest(l.Digest.String()), Size: l.Size, MediaType: string(l.MediaType),
		})
	}
	return target
}

// LayerDigests returns img's layer digests in manifest order.
func LayerDigests(t testing.TB, img v1.Image) []digest.Digest {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatalf("scantest: manifest: %v", err)
	}
	out := make([]digest.Digest, len(m.Layers))
	for i, l := range m.Layers {
		out[i] = digest.Digest(l.Digest.String())
	}
	return out
}
