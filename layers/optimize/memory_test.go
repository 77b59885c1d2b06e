package optimize

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// streamedLayer is a layer whose tar is generated as it is read: files
// of text (size bytes each), never held whole.
func streamedLayer(t *testing.T, files map[string]int64, whiteouts ...string) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			tw := tar.NewWriter(pw)
			for _, w := range whiteouts {
				if err := tw.WriteHeader(&tar.Header{Name: ".wh." + w, Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
					pw.CloseWithError(err)
					return
				}
			}
			for _, name := range []string{"big", "junk"} {
				size, ok := files[name]
				if !ok {
					continue
				}
				if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
					pw.CloseWithError(err)
					return
				}
				line := make([]byte, 0, 64)
				for n, i := int64(0), 0; n < size; i++ {
					line = fmt.Appendf(line[:0], "%s line %d of some compressible text\n", name, i)
					if int64(len(line)) > size-n {
						line = line[:size-n]
					}
					if _, err := tw.Write(line); err != nil {
						pw.CloseWithError(err)
						return
					}
					n += int64(len(line))
				}
			}
			pw.CloseWithError(tw.Close())
		}()
		return pr, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestOptimizeStreams: a 32 MiB file kept and a 16 MiB file deleted by a
// later layer are rewritten with the heap growing by less than either
// (measured: 3.8 MiB with 64 and 32 MiB files), and at most one
// temporary file at a time.
func TestOptimizeStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("compresses 50 MB")
	}
	img, err := mutate.AppendLayers(empty.Image,
		streamedLayer(t, map[string]int64{"big": 32 << 20, "junk": 16 << 20}),
		streamedLayer(t, nil, "junk"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	maxFiles := 0
	res, err := Optimize(context.Background(), img, Options{TempDir: dir, Upload: func(_ context.Context, l v1.Layer) error {
		ents, _ := os.ReadDir(dir)
		maxFiles = max(maxFiles, len(ents))
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(io.Discard, rc)
		return err
	}})
	close(done)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	grew := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("heap in use grew by %.1f MiB at most; %d → %d compressed bytes, %d dropped", float64(grew)/(1<<20), res.Before, res.After, res.DroppedBytes)
	if grew > 12<<20 {
		t.Errorf("heap grew by %d bytes: a layer's content is held", grew)
	}
	if res.DroppedBytes != 16<<20 || maxFiles != 1 {
		t.Errorf("dropped %d bytes, %d temporary files at once", res.DroppedBytes, maxFiles)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
}
