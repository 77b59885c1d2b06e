package shim

import (
	"io"
	"runtime"
	"testing"
)

// TestGzipWriterReusesItsBuffers: once a writer's blocks exist, a stream
// through it allocates far less than one block dictionary (16 KiB) per
// block — the door's memory is its blocks, not garbage refilling the GC's
// headroom at every MiB (docs/performance.md, round 5).
func TestGzipWriterReusesItsBuffers(t *testing.T) {
	const blocks = 64
	in := gzipTestInput(blocks*gzBlockSize, false)
	z, err := newGzipWriter(io.Discard, gzipLevel, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	writeChunked(t, z, in, 1<<20) // makes the blocks and the encoders' state
	z.Reset(io.Discard)

	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	writeChunked(t, z, in, 1<<20)
	runtime.ReadMemStats(&m1)
	if got, limit := m1.TotalAlloc-m0.TotalAlloc, uint64(blocks*gzTailSize/4); got > limit {
		t.Fatalf("a %d-block stream through a reused writer allocated %d bytes (limit %d: a block dictionary each is %d)",
			blocks, got, limit, blocks*gzTailSize)
	}
}
