package ingest

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on the platforms
// imagegate runs on (x86-64, arm64 with 4 KiB base pages).
const hugePage = 2 << 20

// newChunkMem returns chunkSize bytes for one chunk, starting at an
// address aligned to chunkAlign (and, when mapped, to hugePage).
//
// The memory is mapped outside Go's heap and the kernel is asked to back
// it with transparent huge pages (madvise MADV_HUGEPAGE, which the
// default THP setting "madvise" honours). A direct writer's O_DIRECT
// write of a chunk then reaches the block layer as a few 2 MiB segments
// instead of 1,024 pages of 4 KiB, which the block layer cuts into
// requests of at most max_segments pages (254 on virtio: ~1 MiB each):
// on the development VM 8 streams of 4 MiB direct writes run at 1,960–
// 2,430 MB/s from huge-page memory against 1,120–1,375 MB/s from the heap,
// at half the CPU (docs/performance.md, "Round 4"). Where the kernel has
// no huge page to give, the memory is ordinary pages: the same as the
// heap's. The mapping is unmapped when the returned pointer becomes
// unreachable (the chunks pool dropped it): callers must not keep a slice
// of the memory beyond the pointer (io.Writer's contract for the hasher,
// the writer and the tap already forbids it). If the mapping fails, the
// memory comes from the heap — and always under the race detector, which
// watches only the heap: the copy's hand-offs of chunks between its
// goroutines stay checked there.
func newChunkMem() *[]byte {
	if !raceEnabled {
		if b := mapChunkMem(); b != nil {
			return b
		}
	}
	raw := make([]byte, chunkSize+chunkAlign)
	skip := int(-uintptr(unsafe.Pointer(&raw[0])) & (chunkAlign - 1))
	b := raw[skip : skip+chunkSize : skip+chunkSize]
	return &b
}

// mapChunkMem maps chunkSize bytes aligned to hugePage (a mapping of
// chunkSize + hugePage trimmed to the aligned part) and advises huge
// pages for them; nil when the kernel refuses the mapping.
func mapChunkMem() *[]byte {
	const size = chunkSize + hugePage
	base, err := unix.MmapPtr(-1, 0, nil, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil
	}
	skip := -uintptr(base) & (hugePage - 1)
	// Give back the unaligned head and the tail beyond the chunk: both
	// ends of the kept range are page aligned, as munmap needs.
	if skip > 0 {
		_ = unix.MunmapPtr(base, skip)
	}
	start := unsafe.Add(base, skip)
	if tail := size - skip - chunkSize; tail > 0 {
		_ = unix.MunmapPtr(unsafe.Add(start, chunkSize), tail)
	}
	b := unsafe.Slice((*byte)(start), chunkSize)
	// Only advice: without it (THP disabled) the chunk is ordinary pages.
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
	p := &b
	runtime.AddCleanup(p, func(start unsafe.Pointer) { _ = unix.MunmapPtr(start, chunkSize) }, start)
	return p
}
