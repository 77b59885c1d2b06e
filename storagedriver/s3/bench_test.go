package s3

import (
	"context"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// benchSize is the object size of the benchmarks: 1 GiB, or
// IMAGEGATE_BENCH_S3_SIZE (bytes, or with a KiB/MiB/GiB suffix).
func benchSize(b *testing.B) int64 {
	n := int64(1 << 30)
	if v := os.Getenv("IMAGEGATE_BENCH_S3_SIZE"); v != "" {
		if err := parseSize(&n, "IMAGEGATE_BENCH_S3_SIZE", v); err != nil {
			b.Fatal(err)
		}
	}
	return n
}

// pattern is a stream of size bytes repeating a random 4 MiB block.
type pattern struct {
	block []byte
	left  int64
	off   int
}

func newPattern(size int64) *pattern { return &pattern{block: randomBytes(4 << 20), left: size} }

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(int64(len(b)), p.left)], p.block[p.off:])
	p.off = (p.off + n) % len(p.block)
	p.left -= int64(n)
	return n, nil
}

// memPeak samples the Go heap in use while a benchmark runs and reports
// its peak, the peak above the heap in use at start (the test binary holds
// 128 MiB of distribution's testsuites data), and the process's peak RSS
// (VmHWM, reset at start).
type memPeak struct {
	stop chan struct{}
	wg   sync.WaitGroup
	base uint64
	peak uint64
}

func startMemPeak() *memPeak {
	runtime.GC()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset VmHWM (Linux)
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m := &memPeak{stop: make(chan struct{}), base: s.HeapInuse}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var s runtime.MemStats
		for {
			runtime.ReadMemStats(&s)
			m.peak = max(m.peak, s.HeapInuse)
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memPeak) report(b *testing.B) {
	close(m.stop)
	m.wg.Wait()
	b.ReportMetric(float64(m.peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(m.peak-min(m.base, m.peak))/(1<<20), "peak-heap-over-start-MiB")
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
				if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
					b.ReportMetric(kb/1024, "peak-RSS-MiB")
				}
			}
		}
	}
}

func benchDriver(b *testing.B, checksum string) storagedriver.StorageDriver {
	endpoint := testEndpoint(b)
	bucket := newTestBucket(b, endpoint)
	return newTestDriver(b, testParams(endpoint, bucket, map[string]any{
		"chunksize": DefaultChunkSize, "checksum": checksum,
	}))
}

// BenchmarkWriteStream writes one object through one Writer, fed by
// io.Copy in 32 KiB reads as distribution copies a monolithic PUT or
// PATCH body, with each checksum setting.
func BenchmarkWriteStream(b *testing.B) {
	for _, checksum := range []string{"sha256", "crc32c", "off"} {
		b.Run(checksum, func(b *testing.B) {
			sd, size, ctx := benchDriver(b, checksum), benchSize(b), context.Background()
			b.SetBytes(size)
			m := startMemPeak()
			for i := 0; b.Loop(); i++ {
				w, err := sd.Writer(ctx, "/bench/stream-"+strconv.Itoa(i), false)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(w, newPattern(size), make([]byte, 32<<10)); err != nil {
					b.Fatal(err)
				}
				if err := w.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				_ = w.Close()
			}
			m.report(b)
		})
	}
}

// BenchmarkWriteChunked writes one object in 10 MiB chunks, each through a
// Writer resumed for it and closed after it, as distribution handles a
// chunked upload's PATCHes.
func BenchmarkWriteChunked(b *testing.B) {
	sd, size, ctx := benchDriver(b, "sha256"), benchSize(b), context.Background()
	const chunk = 10 << 20
	b.SetBytes(size)
	m := startMemPeak()
	buf := make([]byte, chunk)
	for i := 0; b.Loop(); i++ {
		p := "/bench/chunked-" + strconv.Itoa(i)
		src := newPattern(size)
		for off := int64(0); off < size; off += chunk {
			w, err := sd.Writer(ctx, p, off > 0)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.ReadFull(src, buf)
			if _, err := w.Write(buf[:n]); err != nil {
				b.Fatal(err)
			}
			if off+chunk >= size {
				if err := w.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	m.report(b)
}

// BenchmarkRead reads one object from its start.
func BenchmarkRead(b *testing.B) {
	sd, size, ctx := benchDriver(b, "sha256"), benchSize(b), context.Background()
	w, err := sd.Writer(ctx, "/bench/read", false)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(w, newPattern(size)); err != nil {
		b.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	m := startMemPeak()
	for b.Loop() {
		r, err := sd.Reader(ctx, "/bench/read", 0)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.CopyBuffer(io.Discard, r, make([]byte, 32<<10)); err != nil || n != size {
			b.Fatalf("read %d bytes: %v", n, err)
		}
		r.Close()
	}
	m.report(b)
}
