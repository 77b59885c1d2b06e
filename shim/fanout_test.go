package shim

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// TestFanoutDeliversTheStream: every writer gets the whole stream, in
// order, through ReadFrom and through small and large Writes, at sizes
// around the chunk boundaries.
func TestFanoutDeliversTheStream(t *testing.T) {
	rnd := rand.NewChaCha8([32]byte{1})
	for _, size := range []int{0, 1, fanChunk - 1, fanChunk, fanChunk + 1, fanChunks*fanChunk + 3, 3*fanChunks*fanChunk + 17} {
		data := make([]byte, size)
		_, _ = rnd.Read(data)
		want := sha256.Sum256(data)

		var a, b bytes.Buffer
		h := sha256.New()
		n, err := copyFanout(bytes.NewReader(data), &a, &b, h)
		if err != nil || n != int64(size) {
			t.Fatalf("ReadFrom %d bytes: %d, %v", size, n, err)
		}
		if !bytes.Equal(a.Bytes(), data) || !bytes.Equal(b.Bytes(), data) || !bytes.Equal(h.Sum(nil), want[:]) {
			t.Fatalf("ReadFrom %d bytes: a writer got other bytes", size)
		}

		for _, piece := range []int{7, 32 << 10, 3 * fanChunk / 2} {
			var c bytes.Buffer
			h := sha256.New()
			f := newFanout(&c, h)
			for p := data; len(p) > 0; {
				k := min(piece, len(p))
				if n, err := f.Write(p[:k]); n != k || err != nil {
					t.Fatalf("Write: %d, %v", n, err)
				}
				p = p[k:]
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.Bytes(), data) || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("Write of %d bytes in pieces of %d: a writer got other bytes", size, piece)
			}
		}
	}
}

// failAfter accepts n bytes, then fails.
type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, f.err
	}
	f.n -= len(p)
	return len(p), nil
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestFanoutStopsAtTheFirstError: a failing writer (a full disk, a
// decompression bound) ends the copy with its error, without reading
// the rest of the stream; the other writers are not stuck.
func TestFanoutStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	src := &countingReader{r: io.LimitReader(zeros{}, 1<<30)}
	n, err := copyFanout(src, io.Discard, &failAfter{n: 2 * fanChunk, err: boom}, sha256.New())
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want %v", err, boom)
	}
	// At most the chunks in flight past the failing one are read.
	if limit := int64(2*fanChunks+3) * fanChunk; src.n > limit || n > limit {
		t.Fatalf("read %d bytes (returned %d) after a writer failed at %d", src.n, n, 2*fanChunk)
	}

	f := newFanout(&failAfter{n: 0, err: boom})
	var err2 error
	for range 3 * fanChunks {
		if _, err2 = f.Write(make([]byte, fanChunk)); err2 != nil {
			break
		}
	}
	if cerr := f.Close(); !errors.Is(err2, boom) || !errors.Is(cerr, boom) {
		t.Fatalf("Write: %v, Close: %v; want %v", err2, cerr, boom)
	}
	if _, err := f.Write([]byte{1}); err == nil {
		t.Fatal("a Write after Close succeeded")
	}
}

// TestFanoutReadError: a read error is returned once every writer has
// what was read before it.
func TestFanoutReadError(t *testing.T) {
	bad := errors.New("connection reset")
	var got bytes.Buffer
	r := io.MultiReader(bytes.NewReader(bytes.Repeat([]byte{7}, fanChunk+5)), iotestErr{bad})
	n, err := copyFanout(r, &got)
	if !errors.Is(err, bad) || n != fanChunk+5 || got.Len() != fanChunk+5 {
		t.Fatalf("%d bytes, %v; writer got %d", n, err, got.Len())
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }
