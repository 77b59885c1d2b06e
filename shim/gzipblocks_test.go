package shim

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/pgzip"
)

// gzipTestInput is n bytes of text-like (compressible) or random data.
func gzipTestInput(n int, random bool) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	b := make([]byte, n)
	if random {
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	words := []string{"layer ", "registry ", "tarball ", "gzip\n", "blob ", "digest ", "0123 ", "manifest "}
	for i := 0; i < n; {
		i += copy(b[i:], words[r.IntN(len(words))])
	}
	return b
}

// writeChunked writes p to w in chunks of size (the fanout's are 1 MiB,
// the tests' also odd ones).
func writeChunked(t *testing.T, w io.WriteCloser, p []byte, size int) {
	t.Helper()
	for len(p) > 0 {
		n := min(size, len(p))
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// The door's gzip is pgzip's byte for byte (so that a layer uploaded
// again is stored under the same digest as before the change), it
// decompresses to the input, and a writer reused through Reset writes the
// same bytes again.
func TestGzipWriterMatchesPgzip(t *testing.T) {
	sizes := []int{0, 1, gzTailSize, gzTailSize + 1, gzBlockSize - 1, gzBlockSize, gzBlockSize + 1,
		gzBlockSize + gzTailSize, 2 * gzBlockSize, 3*gzBlockSize + 12345}
	var reused *gzipWriter
	for _, random := range []bool{false, true} {
		for _, n := range sizes {
			t.Run(fmt.Sprintf("random=%v/%d", random, n), func(t *testing.T) {
				in := gzipTestInput(n, random)
				var want bytes.Buffer
				pz, err := pgzip.NewWriterLevel(&want, gzipLevel)
				if err != nil {
					t.Fatal(err)
				}
				if err := pz.SetConcurrency(gzBlockSize, 4); err != nil {
					t.Fatal(err)
				}
				writeChunked(t, pz, in, 1<<20)

				for _, chunk := range []int{1 << 20, 4093} {
					var got bytes.Buffer
					z, err := newGzipWriter(&got, gzipLevel, 2, 3)
					if err != nil {
						t.Fatal(err)
					}
					writeChunked(t, z, in, chunk)
					if !bytes.Equal(got.Bytes(), want.Bytes()) {
						t.Fatalf("chunks of %d: %d bytes differ from pgzip's %d", chunk, got.Len(), want.Len())
					}
				}
				var again bytes.Buffer
				if reused == nil {
					if reused, err = newGzipWriter(&again, gzipLevel, 2, 6); err != nil {
						t.Fatal(err)
					}
				} else {
					reused.Reset(&again)
				}
				writeChunked(t, reused, in, 1<<20)
				if !bytes.Equal(again.Bytes(), want.Bytes()) {
					t.Fatal("a reused writer wrote other bytes")
				}
				zr, err := gzip.NewReader(&again)
				if err != nil {
					t.Fatal(err)
				}
				out, err := io.ReadAll(zr)
				if err != nil || !bytes.Equal(out, in) {
					t.Fatalf("does not decompress to the input: %v", err)
				}
			})
		}
	}
}

// heldOutput holds its second Write (the first block's, after the
// header) until open is closed.
type heldOutput struct {
	open    chan struct{}
	entered chan struct{}
	writes  int
	buf     bytes.Buffer
}

func (g *heldOutput) Write(p []byte) (int, error) {
	if g.writes++; g.writes == 2 {
		close(g.entered)
		<-g.open
	}
	return g.buf.Write(p)
}

// While the output stage is held (a slow disk, the hashing), the workers
// go on compressing the blocks behind the one being stored, up to the
// blocks in flight, and Write takes them without waiting; the writer
// never holds more than depth blocks.
func TestGzipWorkersGoOnWhileTheOutputIsHeld(t *testing.T) {
	const depth = 5
	out := &heldOutput{open: make(chan struct{}), entered: make(chan struct{})}
	z, err := newGzipWriter(out, gzipLevel, 2, depth)
	if err != nil {
		t.Fatal(err)
	}
	compressed := make(chan struct{}, 16)
	z.compressed = func() { compressed <- struct{}{} }
	in := gzipTestInput(8*gzBlockSize, false)
	if _, err := z.Write(in[:gzBlockSize]); err != nil {
		t.Fatal(err)
	}
	<-out.entered // the output stage is storing the first block, held
	if _, err := z.Write(in[gzBlockSize : depth*gzBlockSize]); err != nil {
		t.Fatal(err)
	}
	for range depth {
		<-compressed // every block compresses with the output held
	}
	if z.made != depth {
		t.Fatalf("%d blocks made, want %d", z.made, depth)
	}
	close(out.open)
	writeChunked(t, z, in[depth*gzBlockSize:], gzBlockSize)
	if z.made != depth {
		t.Fatalf("%d blocks made for an 8-block stream, want at most %d", z.made, depth)
	}
	zr, err := gzip.NewReader(&out.buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, in) {
		t.Fatalf("does not decompress to the input: %v", err)
	}
}

// A failing output ends the stream: Write and Close return its error,
// the goroutines end (Close returns), and the writer works again after
// Reset.
func TestGzipWriterOutputError(t *testing.T) {
	boom := errors.New("disk full")
	z, err := newGzipWriter(&failAfter{n: 5 * gzBlockSize / 2, err: boom}, gzipLevel, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	in := gzipTestInput(12*gzBlockSize, true)
	var werr error
	for p := in; len(p) > 0 && werr == nil; p = p[gzBlockSize:] {
		_, werr = z.Write(p[:gzBlockSize])
	}
	if cerr := z.Close(); !errors.Is(cerr, boom) {
		t.Fatalf("Close: %v, want %v", cerr, boom)
	}
	if werr != nil && !errors.Is(werr, boom) {
		t.Fatalf("Write: %v", werr)
	}
	if _, err := z.Write([]byte("x")); !errors.Is(err, errGzipClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	var buf bytes.Buffer
	z.Reset(&buf)
	writeChunked(t, z, in[:3*gzBlockSize], gzBlockSize)
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(zr); err != nil || !bytes.Equal(got, in[:3*gzBlockSize]) {
		t.Fatalf("after Reset: %v", err)
	}
}
