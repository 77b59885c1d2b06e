package shim

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestParallelWriterDeliversTheStream: every writer gets every byte in
// order, although the caller overwrites its buffer after each Write (as
// pgzip reuses its blocks): Write returns only when every writer is done
// with p.
func TestParallelWriterDeliversTheStream(t *testing.T) {
	rnd := rand.NewChaCha8([32]byte{2})
	data := make([]byte, 5<<20+11)
	_, _ = rnd.Read(data)
	want := sha256.Sum256(data)

	var a, b bytes.Buffer
	h := sha256.New()
	pw := newParallelWriter(&a, &b, h)
	buf := make([]byte, 300<<10)
	for p := data; len(p) > 0; {
		k := copy(buf, p)
		if n, err := pw.Write(buf[:k]); n != k || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
		clear(buf) // the block is the caller's again
		p = p[k:]
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), data) || !bytes.Equal(b.Bytes(), data) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("a writer got other bytes")
	}
	if _, err := pw.Write([]byte{1}); !errors.Is(err, errParallelClosed) {
		t.Fatalf("a Write after Close: %v", err)
	}
}

// TestParallelWriterStopsAtTheFirstError: a failing writer, first or on
// a lane, fails that Write and every later one, which then writes
// nothing to the others; Close returns the error.
func TestParallelWriterStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("disk full")
	for _, failFirst := range []bool{true, false} {
		var ok bytes.Buffer
		bad := &failAfter{n: 100, err: boom}
		pw := newParallelWriter(&ok, bad)
		if failFirst {
			pw = newParallelWriter(bad, &ok)
		}
		if _, err := pw.Write(make([]byte, 60)); err != nil {
			t.Fatal(err)
		}
		if n, err := pw.Write(make([]byte, 60)); !errors.Is(err, boom) || n != 0 {
			t.Fatalf("failFirst %v: Write past the failure: %d, %v", failFirst, n, err)
		}
		if _, err := pw.Write(make([]byte, 10)); !errors.Is(err, boom) {
			t.Fatalf("failFirst %v: Write after the failure: %v", failFirst, err)
		}
		if err := pw.Close(); !errors.Is(err, boom) {
			t.Fatalf("failFirst %v: Close: %v", failFirst, err)
		}
		// The healthy writer got the failed Write (in parallel), not the
		// one after it.
		if ok.Len() != 120 {
			t.Fatalf("failFirst %v: the healthy writer got %d bytes, want 120", failFirst, ok.Len())
		}
	}
}
