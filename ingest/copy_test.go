package ingest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"testing/iotest"
)

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	_, _ = r.Read(b)
	return b
}

// TestCopyParallelStoresAndHashesEveryByte: whatever sizes the body's
// reads return, the writer receives the body byte for byte and the hash is
// the body's.
func TestCopyParallelStoresAndHashesEveryByte(t *testing.T) {
	for _, n := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3*depth*chunkSize + 12345} {
		data := randomBytes(uint64(n), n)
		for name, r := range map[string]io.Reader{
			"whole":   bytes.NewReader(data),
			"halves":  iotest.HalfReader(bytes.NewReader(data)),
			"dataerr": iotest.DataErrReader(bytes.NewReader(data)),
		} {
			var out bytes.Buffer
			h := sha256.New()
			res := copyParallel(r, h, &out, nil)
			if res.readErr != nil || res.writeErr != nil {
				t.Fatalf("%d %s: %+v", n, name, res)
			}
			if res.read != int64(n) || res.written != int64(n) || res.hashed != int64(n) {
				t.Fatalf("%d %s: read %d written %d hashed %d", n, name, res.read, res.written, res.hashed)
			}
			if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("%d %s: wrong hash", n, name)
			}
			if !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("%d %s: written bytes differ", n, name)
			}
		}
	}
}

// TestCopyParallelKeepsWhatArrivedBeforeAReadError: a body cut off
// mid-stream (io.ErrUnexpectedEOF, as net/http reports a body shorter
// than its Content-Length) is reported, and every byte read before it is
// both written and hashed — the upload stays consistent at its new size.
func TestCopyParallelKeepsWhatArrivedBeforeAReadError(t *testing.T) {
	data := randomBytes(7, 2*chunkSize+999)
	r := io.MultiReader(bytes.NewReader(data), iotest.ErrReader(io.ErrUnexpectedEOF))
	var out bytes.Buffer
	h := sha256.New()
	res := copyParallel(r, h, &out, nil)
	if !errors.Is(res.readErr, io.ErrUnexpectedEOF) {
		t.Fatalf("readErr = %v, want io.ErrUnexpectedEOF", res.readErr)
	}
	if res.written != int64(len(data)) || res.hashed != res.written || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("written %d hashed %d of %d", res.written, res.hashed, len(data))
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("hash is not the received bytes'")
	}
}

// failingWriter accepts limit bytes, then fails.
type failingWriter struct {
	limit, n int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.limit {
		return 0, errors.New("disk full")
	}
	w.n += len(p)
	return len(p), nil
}

// TestCopyParallelStopsAtAWriteError: the first write error stops the
// reading (the rest of the body is not consumed) and is reported with the
// bytes actually written.
func TestCopyParallelStopsAtAWriteError(t *testing.T) {
	var consumed atomic.Int64
	body := countingReader{r: bytes.NewReader(randomBytes(3, 16*chunkSize)), n: &consumed}
	res := copyParallel(body, sha256.New(), &failingWriter{limit: 2 * chunkSize}, nil)
	if res.writeErr == nil || res.written != 2*chunkSize {
		t.Fatalf("writeErr %v, written %d", res.writeErr, res.written)
	}
	if c := consumed.Load(); c > int64(3+2*depth)*chunkSize {
		t.Fatalf("read %d bytes of the body after the write failed at %d", c, 2*chunkSize)
	}
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestCopyParallelBoundsItsMemory (attack: a client sending faster than
// the disk takes it): a copy never reads more than depth chunks ahead of
// the writer, whether it writes with Write or WriteDirect.
func TestCopyParallelBoundsItsMemory(t *testing.T) {
	for _, direct := range []bool{false, true} {
		t.Run(map[bool]string{false: "Write", true: "WriteDirect"}[direct], func(t *testing.T) { checkReadAhead(t, depth, nil, direct) })
	}
}

// checkReadAhead copies a body with tap (nil: none; the writer waits for
// it) and fails the test if the reader runs more than bound chunks ahead
// of the writer: the writer holds its first write until the reader has
// been asked for bound chunks; the reader notes a violation if it is
// asked for more before any write has returned. It returns the copy's
// result.
func checkReadAhead(t *testing.T, bound int, tap *lockstepTap, direct bool) copyResult {
	t.Helper()
	total := int64(3 * bound * chunkSize)
	reachedBound := make(chan struct{})
	var written atomic.Int64
	var violated atomic.Bool
	var read int64
	body := readerFunc(func(p []byte) (int, error) {
		if read >= total {
			return 0, io.EOF
		}
		if read >= int64(bound)*chunkSize && written.Load() == 0 {
			violated.Store(true)
		}
		n := min(int64(len(p)), total-read)
		read += n
		if read == int64(bound)*chunkSize {
			close(reachedBound)
		}
		return int(n), nil
	})
	var w io.Writer = writerFunc(func(p []byte) (int, error) {
		<-reachedBound
		written.Add(int64(len(p)))
		return len(p), nil
	})
	var tapW io.Writer // not tap itself: a nil *lockstepTap is a non-nil io.Writer
	if tap != nil {
		w, tapW = tap.gate(w), tap
	}
	if direct {
		w = directFunc{w.(writerFunc)}
	}
	res := copyParallel(body, sha256.New(), w, tapW)
	if violated.Load() {
		t.Fatalf("read past %d bytes with nothing written", bound*chunkSize)
	}
	if res.written != total {
		t.Fatalf("written %d of %d", res.written, total)
	}
	return res
}

// directFunc is a directWriter at size 0 whose WriteDirect is f and whose
// Write fails.
type directFunc struct{ f writerFunc }

func (d directFunc) Write([]byte) (int, error)         { return 0, errors.New("Write instead of WriteDirect") }
func (d directFunc) Size() int64                       { return 0 }
func (d directFunc) WriteDirect(p []byte) (int, error) { return d.f(p) }

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// FuzzCopyParallel: any body, read in any pieces, is written and hashed
// whole, and given whole to a tap that was not dropped (bounded: bodies
// of at most 3 chunks), through Write and through WriteDirect after an
// upload of any size.
func FuzzCopyParallel(f *testing.F) {
	f.Add([]byte("hello"), uint16(3))
	f.Add(randomBytes(1, 4096), uint16(1))
	f.Fuzz(func(t *testing.T, seed []byte, piece uint16) {
		if len(seed) == 0 {
			return
		}
		// Stretch the seed past chunk boundaries sometimes, within 3 chunks.
		n := min(len(seed)*int(piece%1024+1), 3*chunkSize)
		want := bytes.Repeat(seed, n/len(seed)+1)[:n]
		step := int(piece%8191) + 1
		reader := func() io.Reader {
			data := want
			return readerFunc(func(p []byte) (int, error) {
				if len(data) == 0 {
					return 0, io.EOF
				}
				k := min(step, len(p), len(data))
				copy(p, data[:k])
				data = data[k:]
				return k, nil
			})
		}
		sum := sha256.Sum256(want)
		var out, tapped bytes.Buffer
		h := sha256.New()
		res := copyParallel(reader(), h, &out, &tapped)
		if res.readErr != nil || res.writeErr != nil || !bytes.Equal(out.Bytes(), want) || !bytes.Equal(h.Sum(nil), sum[:]) {
			t.Fatalf("copy of %d bytes in pieces of %d: %+v", n, step, res)
		}
		if res.tapped && !bytes.Equal(tapped.Bytes(), want) {
			t.Fatalf("copy of %d bytes in pieces of %d: the tap got %d bytes", n, step, tapped.Len())
		}
		prefix := bytes.Repeat([]byte{1}, int(piece)%(2*chunkAlign+1))
		rec := &directRecorder{data: bytes.Clone(prefix)}
		h = sha256.New()
		res = copyParallel(reader(), h, rec, nil)
		if res.readErr != nil || res.writeErr != nil || !bytes.Equal(rec.data, append(prefix, want...)) || !bytes.Equal(h.Sum(nil), sum[:]) {
			t.Fatalf("direct copy of %d bytes in pieces of %d after %d: %+v", n, step, len(prefix), res)
		}
	})
}
