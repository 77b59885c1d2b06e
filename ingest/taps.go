package ingest

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
)

// maxTaps bounds the uploads tapped at once in this process, whether
// their body is being copied or they wait for their commit: a ninth
// upload evicts the oldest waiting one (discarded: its manifest reads
// the layer) or, when all eight are being copied, goes untapped.
const maxTaps = 8

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

// begin returns the sink for a new upload's first body, or nil (no tap,
// or maxTaps sinks running).
func (t *taps) begin(ctx context.Context) TapSink {
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
	}
	return s
}

// end settles a running sink once its body was copied: held under key
// when whole is true (every byte read went to it, the copy succeeded)
// and End succeeds, else discarded.
func (t *taps) end(key string, s TapSink, whole bool, blob digest.Digest, size int64) {
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
