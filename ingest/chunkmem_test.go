package ingest

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// mapping is one line of /proc/self/smaps: a range and its VmFlags.
type mapping struct {
	start, end uintptr
	flags      []string
}

// selfMappings reads /proc/self/smaps.
func selfMappings(t *testing.T) []mapping {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	var maps []mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmFlags:"); ok && len(maps) > 0 {
			maps[len(maps)-1].flags = strings.Fields(rest)
			continue
		}
		var start, end uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &start, &end); n == 2 {
			maps = append(maps, mapping{start: start, end: end})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return maps
}

// mappingOf returns the mapping holding addr, if any.
func mappingOf(maps []mapping, addr uintptr) (mapping, bool) {
	for _, m := range maps {
		if m.start <= addr && addr < m.end {
			return m, true
		}
	}
	return mapping{}, false
}

// hugePageAdvised reports whether m was advised MADV_HUGEPAGE.
func hugePageAdvised(m mapping) bool {
	for _, f := range m.flags {
		if f == "hg" {
			return true
		}
	}
	return false
}

// TestChunkMemIsHugePageAdvisedAndAligned: a chunk's memory is chunkSize
// writable bytes, aligned for direct I/O, and — the point of mapping it —
// 2 MiB aligned in a mapping advised for transparent huge pages (VmFlags
// "hg"), so that direct writes from it reach the disk in large segments.
func TestChunkMemIsHugePageAdvisedAndAligned(t *testing.T) {
	p := mapChunkMem()
	if p == nil {
		t.Fatal("mapping a chunk failed")
	}
	b := *p
	if len(b) != chunkSize || cap(b) != chunkSize {
		t.Fatalf("len %d cap %d, want %d", len(b), cap(b), chunkSize)
	}
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if addr%hugePage != 0 || addr%chunkAlign != 0 {
		t.Fatalf("chunk at %#x: not aligned to %d", addr, hugePage)
	}
	for i := range b {
		b[i] = byte(i)
	}
	if last, mid := chunkSize-1, 12345; b[last] != byte(last) || b[mid] != byte(mid) {
		t.Fatal("chunk memory does not keep what was written")
	}
	m, ok := mappingOf(selfMappings(t), addr)
	if !ok {
		t.Fatalf("no mapping holds the chunk at %#x", addr)
	}
	if m.start > addr || m.end < addr+chunkSize {
		t.Fatalf("mapping %#x-%#x does not cover the chunk %#x+%d", m.start, m.end, addr, chunkSize)
	}
	if !hugePageAdvised(m) {
		t.Fatalf("chunk mapping not advised for huge pages: VmFlags %v", m.flags)
	}
	runtime.KeepAlive(p)
}

// TestChunkMemIsUnmappedWhenDropped: once nothing references a chunk (the
// pool dropped it), its mapping is given back to the kernel, so chunks
// outside the heap stay bounded as heap chunks were.
func TestChunkMemIsUnmappedWhenDropped(t *testing.T) {
	const n = 4
	addrs := make([]uintptr, n)
	for i := range addrs {
		p := mapChunkMem()
		if p == nil {
			t.Fatal("mapping a chunk failed")
		}
		(*p)[0] = 1
		addrs[i] = uintptr(unsafe.Pointer(unsafe.SliceData(*p)))
	}
	// Cleanups run on their own goroutine after a GC: collect until every
	// range is gone, a bounded number of times.
	for range 100 {
		runtime.GC()
		runtime.Gosched()
		maps := selfMappings(t)
		left := 0
		for _, a := range addrs {
			// Gone, or the address reused by another mapping.
			if m, ok := mappingOf(maps, a); ok && hugePageAdvised(m) {
				left++
			}
		}
		if left == 0 {
			return
		}
	}
	t.Fatalf("chunk mappings still present after 100 collections")
}

// TestPoolChunksAreHugePagesExceptUnderRace: the copies' pool hands out
// huge-page-advised chunks, but heap ones under the race detector, which
// would not see accesses to mapped memory.
func TestPoolChunksAreHugePagesExceptUnderRace(t *testing.T) {
	p := newChunkMem()
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(*p)))
	if len(*p) != chunkSize || addr%chunkAlign != 0 {
		t.Fatalf("chunk of %d bytes at %#x", len(*p), addr)
	}
	m, ok := mappingOf(selfMappings(t), addr)
	mapped := ok && hugePageAdvised(m)
	if mapped == raceEnabled {
		t.Fatalf("race detector %v, chunk in a huge-page mapping %v", raceEnabled, mapped)
	}
	runtime.KeepAlive(p)
}
