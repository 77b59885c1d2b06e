package gc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/fleet"
)

// loggingStore is a fake: the in-memory store recording each call's
// operation and space in order, failing the touches of one key when set.
type loggingStore struct {
	fleet.Store
	mu       sync.Mutex
	calls    []string
	failKey  string
	inFlight int
	maxIn    int
	// overlap, once armed (awaitOverlap), holds every call until a second
	// one is in flight — or until deadline, so that calls made one at a
	// time end (and the test sees maxIn 1) instead of hanging.
	overlap     chan struct{}
	overlapOnce sync.Once
	deadline    time.Time
}

// awaitOverlap arms the overlap barrier for the calls that follow.
func (s *loggingStore) awaitOverlap(within time.Duration) {
	s.mu.Lock()
	s.overlap, s.deadline = make(chan struct{}), time.Now().Add(within)
	s.mu.Unlock()
}

var errTouchFault = errors.New("fleet (fake): injected fault")

func (s *loggingStore) log(op, space string) func() {
	s.mu.Lock()
	s.calls = append(s.calls, op+" "+space)
	s.inFlight++
	s.maxIn = max(s.maxIn, s.inFlight)
	overlap, deadline := s.overlap, s.deadline
	if overlap != nil && s.inFlight >= 2 {
		s.overlapOnce.Do(func() { close(overlap) })
	}
	s.mu.Unlock()
	if overlap != nil {
		select {
		case <-overlap:
		case <-time.After(time.Until(deadline)):
		}
	}
	return func() { s.mu.Lock(); s.inFlight--; s.mu.Unlock() }
}

func (s *loggingStore) Get(ctx context.Context, space, key string) (fleet.Item, error) {
	defer s.log("get", space)()
	return s.Store.Get(ctx, space, key)
}

func (s *loggingStore) Put(ctx context.Context, space, key string, value []byte, expect int64, ttl time.Duration) (int64, error) {
	defer s.log("put", space)()
	if s.failKey != "" && key == s.failKey {
		return 0, errTouchFault
	}
	return s.Store.Put(ctx, space, key, value, expect, ttl)
}

// TestTouchAllParallel: the touches of several kinds go out in parallel,
// and every touch is written before any tombstone is read (the protocol's
// order); a tombstoned digest among them is waited out; a failed touch
// fails the call before any tombstone is read.
func TestTouchAllParallel(t *testing.T) {
	ctx := t.Context()
	store := &loggingStore{Store: fleet.NewMemory(0)}
	f := NewFence(store, time.Hour, nil)
	var refs []digest.Digest
	for i := range 6 {
		refs = append(refs, digest.FromString(fmt.Sprint("blob ", i)))
	}
	self := digest.FromString("manifest")
	tomb, err := f.Claim(ctx, refs[3], "deleter")
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan digest.Digest, 1)
	f.SetHook(func(point string, d digest.Digest) {
		if point == "waiting" {
			select {
			case waited <- d:
			default:
			}
		}
	})
	store.mu.Lock()
	store.calls = nil
	store.mu.Unlock()
	store.awaitOverlap(5 * time.Second)
	done := make(chan error, 1)
	go func() {
		done <- f.TouchAll(ctx, Touches{Kind: KindSelf, Digests: []digest.Digest{self}}, Touches{Kind: KindRef, Digests: append(refs, refs[0])})
	}()
	if d := <-waited; d != refs[3] {
		t.Fatalf("waited on %s, want the tombstoned %s", d, refs[3])
	}
	if err := tomb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	store.mu.Lock()
	calls := append([]string(nil), store.calls...)
	maxIn := store.maxIn
	store.mu.Unlock()
	lastTouch, firstTomb, touches := -1, len(calls), 0
	for i, c := range calls {
		switch {
		case c == "put "+touchSpace:
			lastTouch = i
			touches++
		case c == "get "+tombSpace && i < firstTomb:
			firstTomb = i
		}
	}
	if touches != 7 || lastTouch > firstTomb {
		t.Fatalf("%d touches written (want 7: the manifest's own and six blobs, the repeat once); last at call %d, first tombstone read at %d:\n%s",
			touches, lastTouch, firstTomb, strings.Join(calls, "\n"))
	}
	if maxIn < 2 || maxIn > TouchParallelism {
		t.Fatalf("at most %d calls in flight, want 2…%d", maxIn, TouchParallelism)
	}
	for _, d := range append(refs, self) {
		kind := KindRef
		if d == self {
			kind = KindSelf
		}
		if _, err := store.Store.Get(ctx, touchSpace, touchKey(d, kind)); err != nil {
			t.Fatalf("touch of %s: %v", d, err)
		}
	}

	store.mu.Lock()
	store.calls, store.failKey = nil, touchKey(refs[5], KindRef)
	store.mu.Unlock()
	if err := f.Touch(ctx, KindRef, refs...); !errors.Is(err, errTouchFault) {
		t.Fatalf("a failed touch: %v", err)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	for _, c := range store.calls {
		if c == "get "+tombSpace {
			t.Fatalf("a tombstone was read after a touch failed:\n%s", strings.Join(store.calls, "\n"))
		}
	}
}
