package ingest

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
)

// maxTaps bounds the uploads tapped at once in this process, whether
// their body is being copied or they wait for their commit: a fifth
// upload evicts the oldest waiting one (discarded: its manifest reads
// the layer) or, when all four are being copied, goes untapped.
//
// It is the tap's memory bound, since a pusher paces its uploads (a
// stalled body keeps its tap; a tap the copy gives up on — a failed
// Write, falling behind — frees its slot as soon as its last Write
// returns, not when the body ends) and each tapped upload holds at most, as
// measured (docs/performance.md, round 3c): tapLag chunks (12 MiB), the
// registry's sink's decoder and buffers (diffid.Learner: 9 MiB for zstd,
// TapZstdWindow and a block; 40 KiB for gzip; 320 KiB of read buffers)
// and one layer index of at most analysis.maxlayerentries entries (54
// MiB for the default million entries of short paths, 111 MiB when their
// paths fill layers' 64 MiB MaxIndexBytes): 132 MiB, so 4 × 132 = 530
// MiB at the default limits (it was 8 × 188 MiB, 1.5 GiB, with 8 taps and
// the manifest's 64 MiB zstd window). Four is what go-containerregistry
// (crane) uploads at once; the manifest's re-read of an untapped layer
// runs one per CPU, under the same per-layer bounds.
const maxTaps = 4

// taps tracks the sinks of the tapped uploads: running while their body
// is copied, then held until the upload commits (or gets another body,
// or is cancelled, or is evicted).
type taps struct {
	tap     Tap
	mu      sync.Mutex
	running int
	held    map[string]*heldSink
	order   []string // held keys, oldest first
	// committed counts the sinks committed, dropped those discarded
	// after Begin (tests and logs read them).
	committed, dropped atomic.Int64
}

// heldSink is the sink of a body that went through it whole: blob is the
// sha256 the copy computed over those bytes, size their count.
type heldSink struct {
	sink TapSink
	blob digest.Digest
	size int64
}

// runningSink is a sink whose body is being copied: it holds one of the
// maxTaps slots until it is settled, exactly once — by dropped, as soon
// as the copy gives up on it (its Write failed, diffid.ErrTapWindow among
// others, or it fell behind: copyParallel), or else by taps.end once the
// body was copied.
type runningSink struct {
	TapSink
	t       *taps
	settled atomic.Bool
}

// settle reports whether the caller is the one to settle s.
func (s *runningSink) settle() bool { return s.settled.CompareAndSwap(false, true) }

// dropped implements droppedTap: the slot is freed at once, for the next
// upload, and the sink discarded — not when the body ends, which a slow
// or stalled pusher may put off for as long as it likes.
func (s *runningSink) dropped() {
	if !s.settle() {
		return
	}
	s.t.mu.Lock()
	s.t.running--
	s.t.mu.Unlock()
	s.t.discard(s.TapSink)
}

// begin returns the sink for a new upload's first body, or nil (no tap,
// or maxTaps sinks running).
func (t *taps) begin(ctx context.Context) *runningSink {
	if t.tap == nil {
		return nil
	}
	var evict *heldSink
	t.mu.Lock()
	if t.running+len(t.held) >= maxTaps {
		if len(t.order) == 0 {
			t.mu.Unlock()
			return nil
		}
		evict = t.remove(t.order[0])
	}
	t.running++
	t.mu.Unlock()
	if evict != nil {
		t.discard(evict.sink)
	}
	s := t.tap.Begin(ctx)
	if s == nil {
		t.mu.Lock()
		t.running--
		t.mu.Unlock()
		return nil
	}
	return &runningSink{TapSink: s, t: t}
}

// end settles a running sink once its body was copied, unless the copy
// dropped it already: held under key when whole is true (every byte read
// went to it, the copy succeeded) and End succeeds, else discarded.
func (t *taps) end(key string, rs *runningSink, whole bool, blob digest.Digest, size int64) {
	if !rs.settle() {
		return
	}
	s := rs.TapSink
	ok := whole && s.End() == nil
	var old *heldSink
	t.mu.Lock()
	t.running--
	if ok {
		old = t.remove(key)
		if t.held == nil {
			t.held = map[string]*heldSink{}
		}
		t.held[key] = &heldSink{sink: s, blob: blob, size: size}
		t.order = append(t.order, key)
	}
	t.mu.Unlock()
	if old != nil {
		t.discard(old.sink)
	}
	if !ok {
		t.discard(s)
	}
}

// take removes and returns the sink held for key, nil if none is.
func (t *taps) take(key string) *heldSink {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.remove(key)
}

// drop discards the sink held for key, if any: the upload grew or ended
// otherwise than by the commit of the body it saw.
func (t *taps) drop(key string) {
	if h := t.take(key); h != nil {
		t.discard(h.sink)
	}
}

// remove takes key out of the held sinks; t.mu is held.
func (t *taps) remove(key string) *heldSink {
	h, ok := t.held[key]
	if !ok {
		return nil
	}
	delete(t.held, key)
	for i, k := range t.order {
		if k == key {
			t.order = append(t.order[:i], t.order[i+1:]...)
			break
		}
	}
	return h
}

func (t *taps) discard(s TapSink) {
	t.dropped.Add(1)
	s.Discard()
}
