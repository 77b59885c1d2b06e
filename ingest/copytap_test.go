package ingest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// TestCopyParallelFeedsTheTap: a tap that keeps up is given the body byte
// for byte, in the chunks the writer gets, whatever the body's read sizes.
func TestCopyParallelFeedsTheTap(t *testing.T) {
	for _, n := range []int{0, 1, chunkSize, 2*(depth+tapLag)*chunkSize + 777} {
		data := randomBytes(uint64(n)+9, n)
		var out, tapped bytes.Buffer
		tap := newLockstepTap(&tapped)
		res := copyParallel(iotest.HalfReader(bytes.NewReader(data)), sha256.New(), tap.gate(&out), tap)
		if !res.tapped || res.readErr != nil || res.writeErr != nil {
			t.Fatalf("%d bytes: %+v", n, res)
		}
		if !bytes.Equal(tapped.Bytes(), data) || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("%d bytes: the tap got %d, the writer %d", n, tapped.Len(), out.Len())
		}
	}
}

// TestCopyParallelDropsAFailingTap: a tap whose Write fails gets nothing
// more, and the copy goes on undisturbed.
func TestCopyParallelDropsAFailingTap(t *testing.T) {
	data := randomBytes(11, 5*chunkSize)
	var calls atomic.Int32
	tap := writerFunc(func(p []byte) (int, error) {
		calls.Add(1)
		return 0, errors.New("not a layer")
	})
	var out bytes.Buffer
	h := sha256.New()
	res := copyParallel(bytes.NewReader(data), h, &out, tap)
	if res.tapped || res.tapBehind || res.readErr != nil || res.writeErr != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("copy with a failing tap: %+v", res)
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("wrong hash")
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("the failed tap was written %d times, want once", c)
	}
}

// TestCopyParallelDoesNotWaitForASlowTap (attack: a layer that takes the
// tap far longer than the upload — a slow decompression, an index of
// many small files): a tap stuck on its first chunk must not hold the
// body. Its Write returns only once the writer has the whole body; a copy
// that waited for the tap would never finish. The tap is dropped, the
// body stored whole.
func TestCopyParallelDoesNotWaitForASlowTap(t *testing.T) {
	data := randomBytes(12, 4*(depth+tapLag)*chunkSize)
	all := make(chan struct{})
	var out bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		out.Write(p)
		if out.Len() == len(data) {
			close(all)
		}
		return len(p), nil
	})
	var tapCalls atomic.Int32
	tap := writerFunc(func(p []byte) (int, error) {
		tapCalls.Add(1)
		<-all
		return len(p), nil
	})
	done := make(chan copyResult, 1)
	go func() { done <- copyParallel(bytes.NewReader(data), sha256.New(), w, tap) }()
	select {
	case res := <-done:
		if res.tapped || !res.tapBehind || res.written != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("copy with a stuck tap: %+v", res)
		}
		if c := tapCalls.Load(); c != 1 {
			t.Fatalf("the dropped tap was written %d times, want once (the chunk it was stuck on)", c)
		}
	case <-time.After(30 * time.Second): // a deadline for a deadlock, not a wait for a result
		t.Fatal("the copy waits for a stuck tap")
	}
}

// TestCopyParallelBoundsItsMemoryWithATap: with a tap that keeps up, the
// reader never runs more than depth + tapLag chunks ahead of the writer.
func TestCopyParallelBoundsItsMemoryWithATap(t *testing.T) {
	if res := checkReadAhead(t, depth+tapLag, newLockstepTap(io.Discard), false); !res.tapped {
		t.Fatalf("the tap was dropped: %+v", res)
	}
}

// lockstepTap is a tap that keeps up by construction, however the
// scheduler runs the copy's goroutines: the writer it gates does not
// write a byte before the tap has taken it. A tap that is merely fast
// (a bytes.Buffer, io.Discard) can still fall tapLag chunks behind on a
// loaded machine when its goroutine is not scheduled, and is then rightly
// dropped: CI saw exactly that.
type lockstepTap struct {
	sink  io.Writer
	took  atomic.Int64
	moved chan struct{} // signalled after each Write
}

func newLockstepTap(sink io.Writer) *lockstepTap {
	return &lockstepTap{sink: sink, moved: make(chan struct{}, 1)}
}

func (t *lockstepTap) Write(p []byte) (int, error) {
	n, err := t.sink.Write(p)
	t.took.Add(int64(n))
	select {
	case t.moved <- struct{}{}:
	default:
	}
	return n, err
}

// gate returns w behind the tap: each Write waits until the tap has
// taken every byte written so far and those it is given. A tap that is
// dropped never takes them: the Write fails after a deadline (for a
// dropped tap, not a wait for a result).
func (t *lockstepTap) gate(w io.Writer) writerFunc {
	var written int64
	return func(p []byte) (int, error) {
		deadline := time.After(30 * time.Second)
		for t.took.Load() < written+int64(len(p)) {
			select {
			case <-t.moved:
			case <-deadline:
				return 0, fmt.Errorf("the tap took %d bytes, the writer is at %d: it was dropped", t.took.Load(), written+int64(len(p)))
			}
		}
		n, err := w.Write(p)
		written += int64(n)
		return n, err
	}
}
