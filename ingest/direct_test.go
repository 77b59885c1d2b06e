package ingest

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"
	"testing/iotest"
	"unsafe"

	"github.com/imagegate/imagegate/storagedriver/fs"
)

// directRecorder is a directWriter in memory: it starts with a resumed
// upload's bytes and records, for every WriteDirect, where the bytes are
// in memory and where they go in the file.
type directRecorder struct {
	data   []byte
	calls  []directCall
	writes int // calls of Write
}

type directCall struct {
	addr uintptr
	off  int64
	n    int
}

func (d *directRecorder) Write(p []byte) (int, error) {
	d.writes++
	d.data = append(d.data, p...)
	return len(p), nil
}

func (d *directRecorder) Size() int64 { return int64(len(d.data)) }

func (d *directRecorder) WriteDirect(p []byte) (int, error) {
	d.calls = append(d.calls, directCall{addr: uintptr(unsafe.Pointer(unsafe.SliceData(p))), off: int64(len(d.data)), n: len(p)})
	d.data = append(d.data, p...)
	return len(p), nil
}

// copied is the number of bytes of c a driver cannot write in place: all
// of them when memory and file offset differ modulo chunkAlign, else those
// before the first aligned offset and after the last whole block.
func (c directCall) copied() int {
	if (int64(c.addr)-c.off)%chunkAlign != 0 {
		return c.n
	}
	head := int(-c.off & (chunkAlign - 1))
	if head >= c.n {
		return c.n
	}
	return head + (c.n-head)%chunkAlign
}

// TestCopyParallelHandsAlignedChunksToADirectWriter: with a directWriter
// the copy writes every chunk with WriteDirect (never Write), each placed
// in memory at its file offset modulo chunkAlign — also after a resumed
// upload left the file at an unaligned size — so that all but the
// unaligned head and the tail of the body (less than 2 × chunkAlign) can
// be written without a copy; the bytes and the hash are the body's.
func TestCopyParallelHandsAlignedChunksToADirectWriter(t *testing.T) {
	for _, start := range []int{0, 1000, chunkAlign - 1, chunkAlign + 1, chunkSize + 5} {
		for _, n := range []int{1, chunkAlign, chunkSize - 1, 2*chunkSize + 777, 3 * chunkSize} {
			for name, half := range map[string]bool{"whole": false, "halves": true} {
				prefix := randomBytes(uint64(start), start)
				body := randomBytes(uint64(n)+1, n)
				var r io.Reader = bytes.NewReader(body)
				if half {
					r = iotest.HalfReader(r)
				}
				rec := &directRecorder{data: bytes.Clone(prefix)}
				h := sha256.New()
				res := copyParallel(r, h, rec, nil)
				if res.readErr != nil || res.writeErr != nil || res.written != int64(n) || res.hashed != int64(n) {
					t.Fatalf("start %d, %d bytes, %s: %+v", start, n, name, res)
				}
				if !bytes.Equal(rec.data, append(prefix, body...)) {
					t.Fatalf("start %d, %d bytes, %s: file content differs", start, n, name)
				}
				if want := sha256.Sum256(body); !bytes.Equal(h.Sum(nil), want[:]) {
					t.Fatalf("start %d, %d bytes, %s: wrong hash", start, n, name)
				}
				if rec.writes != 0 {
					t.Fatalf("start %d, %d bytes, %s: %d bytes went through Write", start, n, name, rec.writes)
				}
				copied := 0
				for _, c := range rec.calls {
					copied += c.copied()
				}
				if copied >= 2*chunkAlign {
					t.Fatalf("start %d, %d bytes, %s: %d bytes cannot be written in place (calls %+v)", start, n, name, copied, rec.calls)
				}
			}
		}
	}
}

// TestDirectWriterOfTheFilesystemDriver: storagedriver/fs's writers are
// directWriters with this package's alignment (the declarations cannot
// drift apart unnoticed), and a body appended to an upload left at an
// unaligned size lands byte for byte.
func TestDirectWriterOfTheFilesystemDriver(t *testing.T) {
	if chunkAlign != fs.Align {
		t.Fatalf("chunkAlign %d, storagedriver/fs aligns direct writes to %d", chunkAlign, fs.Align)
	}
	ctx := t.Context()
	d := fs.New(t.TempDir())
	head := randomBytes(1, 1000)
	w, err := d.Writer(ctx, "/up/data", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(head); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w, err = d.Writer(ctx, "/up/data", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.(directWriter); !ok {
		t.Fatalf("storagedriver/fs's %T is not a directWriter", w)
	}
	body := randomBytes(2, 2*chunkSize+5)
	res := copyParallel(bytes.NewReader(body), sha256.New(), w, nil)
	if res.readErr != nil || res.writeErr != nil || res.written != int64(len(body)) {
		t.Fatalf("copy: %+v", res)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := d.GetContent(ctx, "/up/data")
	if err != nil || !bytes.Equal(got, append(head, body...)) {
		t.Fatalf("file: %d bytes, want %d, %v", len(got), len(head)+len(body), err)
	}
}
