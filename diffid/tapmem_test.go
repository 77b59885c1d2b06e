package diffid_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
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

// layerBlob streams a tar through compress into a blob: files empty
// files named by nameLen bytes (an index entry each for 512 bytes of
// tar), then one file of content bytes that compress about 3:1.
func layerBlob(t testing.TB, compress func(io.Writer) io.WriteCloser, files, nameLen, content int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := compress(&b)
	tw := tar.NewWriter(zw)
	for i := range files {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d/%0*d", nameLen-2, i), Mode: 0o644, Typeflag: tar.TypeReg}); err != nil {
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
			for i := 0; i < len(buf); i += 8 {
				binary.LittleEndian.PutUint64(buf[i:], rng.Uint64()&0x0707070707070707) // 3 bits of entropy a byte
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
			l := r.Learn(t.Context(), tap)
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

// TestTapMemoryMeasure reports the live heap of tappedUploads stalled
// uploads of each attack layer, with IMAGEGATE_TAPMEM_ENTRIES tiny
// files in the many-entries layers (1000000, analysis.maxlayerentries'
// default: 512 MiB of tar each, minutes of CPU): a measurement, skipped
// without it (docs/performance.md, round 3c).
func TestTapMemoryMeasure(t *testing.T) {
	entries, err := strconv.Atoi(os.Getenv("IMAGEGATE_TAPMEM_ENTRIES"))
	if err != nil {
		t.Skip("a measurement: set IMAGEGATE_TAPMEM_ENTRIES (100000 takes a minute)")
	}
	for _, tc := range []struct {
		name string
		blob func() []byte
	}{
		{"zstd 64 MiB window", func() []byte { return layerBlob(t, zstdWindow(64<<20), 10, 8, 16<<20) }},
		{"zstd 8 MiB window", func() []byte { return layerBlob(t, zstdWindow(8<<20), 10, 8, 16<<20) }},
		{fmt.Sprintf("gzip %d tiny entries", entries), func() []byte { return layerBlob(t, gzipFast, entries, 8, 0) }},
		// 64-byte paths: a million of them nearly fill MaxIndexBytes.
		{fmt.Sprintf("gzip %d entries of 64-byte paths", entries), func() []byte { return layerBlob(t, gzipFast, entries, 64, 0) }},
		{fmt.Sprintf("zstd 64 MiB window, %d tiny entries", entries), func() []byte { return layerBlob(t, zstdWindow(64<<20), entries, 8, 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blob := tc.blob()
			held, learning := tapMemory(t, blob)
			t.Logf("%d uploads of a %d-byte blob: %.1f MiB held (%.1f MiB each), %d still learning",
				tappedUploads, len(blob), float64(held)/(1<<20), float64(held)/(1<<20)/tappedUploads, learning)
		})
	}
}

// TestTapMemoryBound (attack: a pusher opens tappedUploads uploads of
// zstd frames that declare a 64 MiB window and stalls them, so each
// decoder holds its window for as long as it likes): a Learner's decoder
// holds at most TapZstdWindow of history, so the stalled uploads hold
// less than tappedUploads × (TapZstdWindow + 4 MiB: a block, the read
// buffers, slack) — 96 MiB, where the 64 MiB window held 523 MiB. The
// frames within TapZstdWindow are still learnt, within the same bound.
func TestTapMemoryBound(t *testing.T) {
	const bound = tappedUploads * (diffid.TapZstdWindow + 4<<20)
	for _, tc := range []struct {
		name     string
		window   int
		learning int
	}{
		{"64 MiB window: the tap gives up", 64 << 20, 0},
		{"8 MiB window: learnt", diffid.TapZstdWindow, tappedUploads},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held, learning := tapMemory(t, layerBlob(t, zstdWindow(tc.window), 10, 8, 4<<20))
			t.Logf("%d stalled uploads hold %.1f MiB", tappedUploads, float64(held)/(1<<20))
			if held >= bound {
				t.Errorf("%d stalled uploads hold %d bytes, want less than %d", tappedUploads, held, bound)
			}
			if learning != tc.learning {
				t.Errorf("%d Learners still learning, want %d", learning, tc.learning)
			}
		})
	}
}
