package diffid_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/imagegate/imagegate/analysis"
	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/layers"
)

// tappedUploads is how many uploads ingest taps at once (its maxTaps).
const tappedUploads = 8

// analyzerTap is the registry's adapter: the analysis's Pending sinks
// behind diffid.PendingTap, so that the index memory is the real one.
type analyzerTap struct{ a *analysis.Analyzer }

func (t analyzerTap) Begin(ctx context.Context) diffid.PendingSink { return t.a.Begin(ctx) }

// layerBlob streams a tar through compress into a blob: files tiny
// empty files (an index entry each for 512 bytes of tar), then one file
// of content bytes that compress about 3:1.
func layerBlob(t testing.TB, compress func(io.Writer) io.WriteCloser, files, content int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := compress(&b)
	tw := tar.NewWriter(zw)
	for i := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "d/" + strconv.Itoa(i), Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
	}
	if content > 0 {
		if err := tw.WriteHeader(&tar.Header{Name: "big", Mode: 0o644, Size: int64(content), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		buf := make([]byte, 1<<20)
		for left := content; left > 0; left -= len(buf) {
			for i := range buf {
				buf[i] = byte(rng.IntN(8)) // 3 bits of entropy a byte
			}
			if _, err := tw.Write(buf[:min(left, len(buf))]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// zstdWindow compresses with zstd frames that declare window (the
// decoder must hold that much history).
func zstdWindow(window int) func(io.Writer) io.WriteCloser {
	return func(w io.Writer) io.WriteCloser {
		zw, err := zstd.NewWriter(w, zstd.WithWindowSize(window), zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(err)
		}
		return zw
	}
}

func gzipFast(w io.Writer) io.WriteCloser {
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	return zw
}

// tapMemory runs tappedUploads Learners at once, each fed blob but its
// last byte (an attacker's stalled upload: the decoder and the index are
// as big as the layer makes them), and returns the live heap they hold
// then (HeapInuse after a GC, less the same before) and how many of them
// were still learning.
func tapMemory(t *testing.T, blob []byte) (held uint64, learning int) {
	t.Helper()
	r := diffid.NewResolver(diffid.NewDriverStore(inmemory.New()), diffid.Limits{MaxBytes: 1 << 40, MaxRatio: 200}, 0)
	a := analysis.New(layers.NewDriverStore(inmemory.New()), r, layers.Limits{})
	tap := analyzerTap{a}
	before := heapInuse()
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	var mu sync.Mutex
	for range tappedUploads {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			l := r.Learn(context.Background(), tap)
			defer l.Discard()
			var err error
			for p := blob[:len(blob)-1]; len(p) > 0 && err == nil; p = p[min(len(p), 1<<20):] {
				_, err = l.Write(p[:min(len(p), 1<<20)])
			}
			if err == nil {
				mu.Lock()
				learning++
				mu.Unlock()
			}
			ready.Done()
			<-release
		}()
	}
	ready.Wait()
	during := heapInuse()
	close(release)
	done.Wait()
	if during < before {
		return 0, learning
	}
	return during - before, learning
}

func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// tapMemEntries is the tiny files of the many-entries layers: 100,000
// by default (50 MiB of tar), IMAGEGATE_TAPMEM_ENTRIES for a measurement
// at analysis.maxlayerentries (1,000,000).
func tapMemEntries(t *testing.T) int {
	if s := os.Getenv("IMAGEGATE_TAPMEM_ENTRIES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return 100_000
}

// TestTapMemoryMeasure reports the live heap of tappedUploads stalled
// uploads of each attack layer (go test -v -run TestTapMemoryMeasure).
func TestTapMemoryMeasure(t *testing.T) {
	if testing.Short() {
		t.Skip("builds layers of 50 MiB and more")
	}
	entries := tapMemEntries(t)
	for _, tc := range []struct {
		name string
		blob func() []byte
	}{
		{"zstd 64 MiB window", func() []byte { return layerBlob(t, zstdWindow(64<<20), 10, 16<<20) }},
		{"zstd 8 MiB window", func() []byte { return layerBlob(t, zstdWindow(8<<20), 10, 16<<20) }},
		{fmt.Sprintf("gzip %d tiny entries", entries), func() []byte { return layerBlob(t, gzipFast, entries, 0) }},
		{fmt.Sprintf("zstd 64 MiB window, %d tiny entries", entries), func() []byte { return layerBlob(t, zstdWindow(64<<20), entries, 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blob := tc.blob()
			held, learning := tapMemory(t, blob)
			t.Logf("%d uploads of a %d-byte blob: %.1f MiB held (%.1f MiB each), %d still learning",
				tappedUploads, len(blob), float64(held)/(1<<20), float64(held)/(1<<20)/tappedUploads, learning)
		})
	}
}
