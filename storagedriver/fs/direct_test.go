package fs

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"unsafe"
)

// pwrite is one write the writer issued: which descriptor, from which
// memory, where.
type pwrite struct {
	direct bool
	addr   uintptr
	off    int64
	n      int
}

// observeWrites records the writes of w (a *fileWriter of this driver)
// and, when events is not nil, logs them as "write" next to the fsyncs of
// observeSyncs. It skips the test where the filesystem refuses O_DIRECT.
func observeWrites(t *testing.T, w *fileWriter, events *syncLog) *[]pwrite {
	t.Helper()
	if w.direct == nil {
		t.Skip("the filesystem of t.TempDir() refuses O_DIRECT: no direct writes to observe")
	}
	var (
		mu  sync.Mutex
		log []pwrite
	)
	orig := writeAt
	writeAt = func(f *os.File, p []byte, off int64) (int, error) {
		mu.Lock()
		log = append(log, pwrite{direct: f == w.direct, addr: addr(p), off: off, n: len(p)})
		mu.Unlock()
		if events != nil {
			events.mu.Lock()
			events.events = append(events.events, "write")
			events.mu.Unlock()
		}
		return orig(f, p, off)
	}
	t.Cleanup(func() { writeAt = orig })
	return &log
}

func addr(p []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(p))) }

// alignedBytes returns n random bytes starting at an Align-aligned address.
func alignedBytes(n int) []byte {
	raw := make([]byte, n+Align)
	skip := int(-addr(raw) & (Align - 1))
	p := raw[skip : skip+n]
	rand.Read(p)
	return p
}

func directWriter(t *testing.T, root string, appendTo bool) *fileWriter {
	t.Helper()
	w, err := New(root).Writer(t.Context(), "/up/data", appendTo)
	if err != nil {
		t.Fatal(err)
	}
	dw, ok := w.(DirectWriter)
	if !ok {
		t.Fatalf("%T does not implement DirectWriter", w)
	}
	return dw.(*fileWriter)
}

// TestWriteDirectWritesFromTheCallersMemory: WriteDirect of aligned memory
// at an aligned offset is written by O_DIRECT from that very memory (no
// copy: no pooled buffer is taken), the unaligned tail through the page
// cache from it too; a resumed writer at an unaligned offset (a PATCH
// after a PATCH of odd length) writes the head up to the next aligned
// offset through the page cache and the whole blocks after it directly,
// when the caller placed its bytes at the same offset modulo Align; and
// memory that is not placed so falls back to the page cache for all of
// it. The file holds every byte in order, with Write mixed in.
func TestWriteDirectWritesFromTheCallersMemory(t *testing.T) {
	root := t.TempDir()
	var want []byte

	// A fresh upload: aligned memory, offset 0.
	w := directWriter(t, root, false)
	writes := observeWrites(t, w, nil)
	p := alignedBytes(3*Align + 100)
	if n, err := w.WriteDirect(p); n != len(p) || err != nil {
		t.Fatalf("WriteDirect = %d, %v", n, err)
	}
	want = append(want, p...)
	if got := *writes; fmt.Sprint(got) != fmt.Sprint([]pwrite{
		{direct: true, addr: addr(p), off: 0, n: 3 * Align},
		{direct: false, addr: addr(p[3*Align:]), off: 3 * Align, n: 100},
	}) {
		t.Fatalf("writes of an aligned WriteDirect: %+v", got)
	}
	if w.owned != 0 || w.Size() != int64(len(want)) {
		t.Fatalf("after WriteDirect: %d pooled buffers taken (want 0: no copy), size %d", w.owned, w.Size())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	// Resumed at 3*Align+100: the caller reads into its chunk at offset
	// 100, as ingest's copy does.
	w = directWriter(t, root, true)
	writes = observeWrites(t, w, nil)
	skew := int(w.Size() % Align)
	chunk := alignedBytes(4 * Align)
	p = chunk[skew : skew+2*Align+50]
	if _, err := w.WriteDirect(p); err != nil {
		t.Fatal(err)
	}
	want = append(want, p...)
	head := Align - skew
	if got := *writes; fmt.Sprint(got) != fmt.Sprint([]pwrite{
		{direct: false, addr: addr(p), off: 3*Align + 100, n: head},
		{direct: true, addr: addr(chunk[Align:]), off: 4 * Align, n: Align},
		{direct: false, addr: addr(chunk[2*Align:]), off: 5 * Align, n: len(p) - head - Align},
	}) {
		t.Fatalf("writes of a WriteDirect at an unaligned offset: %+v", got)
	}

	// Memory not placed at the file's offset modulo Align: all of it
	// through the page cache, still from the caller's memory.
	*writes = nil
	p = alignedBytes(2 * Align)
	if _, err := w.WriteDirect(p); err != nil {
		t.Fatal(err)
	}
	want = append(want, p...)
	if got := *writes; len(got) != 1 || got[0].direct || got[0].addr != addr(p) || got[0].n != len(p) {
		t.Fatalf("writes of misplaced memory: %+v", got)
	}

	// Write and WriteDirect mixed keep the file's order.
	for _, step := range []func() []byte{
		func() []byte { q := []byte("buffered"); _, _ = w.Write(q); return q },
		func() []byte {
			c := alignedBytes(2 * Align)
			q := c[int(w.Size()%Align):]
			_, _ = w.WriteDirect(q)
			return q
		},
		func() []byte { q := bytes.Repeat([]byte{7}, 5000); _, _ = w.Write(q); return q },
	} {
		want = append(want, step()...)
	}
	if w.Size() != int64(len(want)) {
		t.Fatalf("size %d, want %d", w.Size(), len(want))
	}
	if err := w.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "up/data"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file content differs: %d bytes, want %d, %v", len(got), len(want), err)
	}
}

// TestWriteDirectIsDurableAtClose: the bytes of WriteDirect are written
// before the fsync of Close (the one that makes a PATCH's bytes durable
// before its hash state is stored), and Commit's fsync follows them too.
func TestWriteDirectIsDurableAtClose(t *testing.T) {
	root := t.TempDir()
	for _, commit := range []bool{false, true} {
		t.Run(fmt.Sprintf("commit=%v", commit), func(t *testing.T) {
			events := observeSyncs(t)
			w := directWriter(t, root, false)
			observeWrites(t, w, events)
			if _, err := w.WriteDirect(alignedBytes(2*Align + 1)); err != nil {
				t.Fatal(err)
			}
			if commit {
				if err := w.Commit(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			file := "file " + filepath.Join(root, "up/data")
			events.mu.Lock()
			got := fmt.Sprint(events.events)
			events.mu.Unlock()
			if want := fmt.Sprint([]string{"write", "write", file}); got != want {
				t.Fatalf("events %s, want %s", got, want)
			}
		})
	}
}

// TestWriteDirectReportsAFailedWrite: a write the disk refuses is
// WriteDirect's error at once (Write would report it only at Close), Size
// does not count the bytes, later writes fail, and Close reports it.
func TestWriteDirectReportsAFailedWrite(t *testing.T) {
	w := directWriter(t, t.TempDir(), false)
	orig := writeAt
	writeAt = func(*os.File, []byte, int64) (int, error) { return 0, errors.New("disk full") }
	t.Cleanup(func() { writeAt = orig })
	if n, err := w.WriteDirect(alignedBytes(Align)); n != 0 || err == nil {
		t.Fatalf("WriteDirect on a failing disk = %d, %v", n, err)
	}
	if w.Size() != 0 {
		t.Fatalf("size %d after a failed write", w.Size())
	}
	if _, err := w.WriteDirect(alignedBytes(Align)); err == nil {
		t.Fatal("a write after the failure succeeded")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after a failed write reported nothing")
	}
}
