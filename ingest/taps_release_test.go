package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// givingUpTap is a signallingTap whose sinks fail every Write of a body
// that starts with giveUpMarker (as a diffid.Learner fails with
// ErrTapWindow), and that says when a sink is discarded.
type givingUpTap struct {
	signallingTap
	discarded chan struct{}
}

var giveUpMarker = []byte("GIVE UP")

func (t *givingUpTap) Begin(ctx context.Context) TapSink {
	return &givingUpSink{recordingSink: t.signallingTap.Begin(ctx).(*recordingSink), discarded: t.discarded}
}

type givingUpSink struct {
	*recordingSink
	discarded chan<- struct{}
}

func (s *givingUpSink) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, giveUpMarker) {
		return 0, errors.New("the tap gives up on this body")
	}
	return s.recordingSink.Write(p)
}

func (s *givingUpSink) Discard() {
	s.recordingSink.Discard()
	s.discarded <- struct{}{}
}

// TestTapGivingUpFreesItsSlot: with maxTaps uploads tapped and their
// bodies stalled, one tap gives up on its body (a failed Write) while the
// body is still being sent; its slot is freed then, not when the body
// ends, so the next upload is tapped. Every upload is stored.
func TestTapGivingUpFreesItsSlot(t *testing.T) {
	tap := &givingUpTap{signallingTap: signallingTap{begun: make(chan struct{}, 2*maxTaps)}, discarded: make(chan struct{}, 2*maxTaps)}
	reg := newTestRegistry(t, "ingest", WithTap(tap))
	var bodies []stalled
	for i := range maxTaps {
		first := randomBytes(uint64(60+i), 1000)
		if i == 0 {
			// A whole chunk, so that the copy hands it to the tap while
			// the body goes on.
			first = append(append([]byte(nil), giveUpMarker...), randomBytes(60, chunkSize-len(giveUpMarker))...)
		}
		s := stallUpload(t, reg, "test/stalled", first)
		<-tap.begun
		bodies = append(bodies, s)
	}
	select {
	case <-tap.discarded:
	case <-time.After(30 * time.Second): // a deadline for a hang, not a wait for a result
		t.Fatal("the sink that gave up is held (not discarded) while its body is still being sent")
	}
	if resp := reg.patch(t, reg.start(t, "test/next"), -1, randomBytes(70, 1000)); resp.status != http.StatusAccepted {
		t.Fatalf("next upload: %d %s", resp.status, resp.body)
	}
	if n := len(tap.all()); n != maxTaps+1 {
		t.Fatalf("%d uploads tapped, want %d: the slot given up was not freed", n, maxTaps+1)
	}
	for i, s := range bodies {
		s.body.Close()
		if status := <-s.status; status != http.StatusAccepted {
			t.Fatalf("stalled upload %d: %d", i, status)
		}
	}
	if _, _, _, discarded, after := tap.all()[0].state(); discarded != 1 || after {
		t.Fatalf("the sink that gave up was discarded %d times (calls after: %v), want once", discarded, after)
	}
	if n := reg.in.taps.dropped.Load(); n != 1 {
		t.Fatalf("%d sinks dropped, want 1 (no double release)", n)
	}
}

// droppedWriter is a tap that blocks every Write until release is closed,
// and records when the copy drops it.
type droppedWriter struct {
	release <-chan struct{}
	calls   atomic.Int32
	drops   atomic.Int32
	gone    chan struct{}
}

func (w *droppedWriter) Write(p []byte) (int, error) {
	w.calls.Add(1)
	<-w.release
	return len(p), nil
}

func (w *droppedWriter) dropped() {
	if w.drops.Add(1) == 1 {
		close(w.gone)
	}
}

// TestCopyParallelTellsABehindTapAtOnce: a tap that falls behind is told
// it was dropped as soon as its Write in progress returns, while the
// body is still being read — not at the body's end — and only once.
func TestCopyParallelTellsABehindTapAtOnce(t *testing.T) {
	release := make(chan struct{})
	tap := &droppedWriter{release: release, gone: make(chan struct{})}
	pr, pw := io.Pipe()
	done := make(chan copyResult, 1)
	go func() { done <- copyParallel(pr, sha256.New(), io.Discard, tap) }()
	// Enough chunks for the tap, stuck on its first, to fall tapLag behind.
	if _, err := pw.Write(randomBytes(80, (depth+tapLag+2)*chunkSize)); err != nil {
		t.Fatal(err)
	}
	close(release)
	select {
	case <-tap.gone:
	case <-time.After(30 * time.Second): // a deadline for a hang, not a wait for a result
		t.Fatal("the tap that fell behind was not told before the body ended")
	}
	pw.Close()
	res := <-done
	if res.tapped || !res.tapBehind || tap.drops.Load() != 1 || tap.calls.Load() != 1 {
		t.Fatalf("%+v, dropped %d times, written %d times: want dropped once after its one Write", res, tap.drops.Load(), tap.calls.Load())
	}
}
