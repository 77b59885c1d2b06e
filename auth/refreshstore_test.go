package auth

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// refreshStores are the RefreshStore implementations under the contract:
// each makes two views of one store — two replicas' for a shared store,
// the same process's twice for a per-process one.
var refreshStores = map[string]func() (RefreshStore, RefreshStore){
	"memory": func() (RefreshStore, RefreshStore) {
		m := NewMemoryRefreshStore(0)
		return m, m
	},
	"fleet": func() (RefreshStore, RefreshStore) {
		s := fleet.NewMemory(0)
		return NewFleetRefreshStore(s), NewFleetRefreshStore(s)
	},
}

// TestRefreshStoreContract runs the RefreshStore contract against every
// implementation.
func TestRefreshStoreContract(t *testing.T) {
	for name, open := range refreshStores {
		t.Run(name, func(t *testing.T) {
			t.Run("rotation", func(t *testing.T) { testRefreshRotation(t, open) })
			t.Run("revocation", func(t *testing.T) { testRefreshRevocation(t, open) })
			t.Run("expiry", func(t *testing.T) { testRefreshExpiry(t, open) })
			t.Run("concurrent rotation", func(t *testing.T) { testRefreshRace(t, open) })
		})
	}
}

// testRefreshRotation: an unknown token is valid; once rotated on one
// view it is reused on both, and rotating it again changes nothing.
func testRefreshRotation(t *testing.T, open func() (RefreshStore, RefreshStore)) {
	ctx, until := t.Context(), time.Now().Add(time.Hour)
	a, b := open()
	if err := b.Check(ctx, "chain", "t1"); err != nil {
		t.Fatalf("unknown token: %v", err)
	}
	if err := a.Rotate(ctx, "chain", "t1", until); err != nil {
		t.Fatal(err)
	}
	for _, s := range []RefreshStore{a, b} {
		if err := s.Check(ctx, "chain", "t1"); !errors.Is(err, ErrRefreshReused) {
			t.Fatalf("rotated token checked: %v, want ErrRefreshReused", err)
		}
	}
	if err := b.Rotate(ctx, "chain", "t1", until); !errors.Is(err, ErrRefreshReused) {
		t.Fatalf("second rotation: %v, want ErrRefreshReused", err)
	}
	if err := b.Check(ctx, "chain", "t2"); err != nil {
		t.Fatalf("another token of the chain: %v", err)
	}
}

// testRefreshRevocation: a chain revoked on one view refuses every token
// of it on both; other chains are untouched.
func testRefreshRevocation(t *testing.T, open func() (RefreshStore, RefreshStore)) {
	ctx := t.Context()
	a, b := open()
	if err := a.Revoke(ctx, "stolen", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := b.Check(ctx, "stolen", "any"); !errors.Is(err, ErrRefreshRevoked) {
		t.Fatalf("token of a revoked chain: %v, want ErrRefreshRevoked", err)
	}
	if err := b.Check(ctx, "other", "any"); err != nil {
		t.Fatalf("token of another chain: %v", err)
	}
	if err := b.Revoke(ctx, "stolen", time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
}

// testRefreshExpiry: entries are forgotten after their until.
func testRefreshExpiry(t *testing.T, open func() (RefreshStore, RefreshStore)) {
	ctx, until := t.Context(), time.Now().Add(100*time.Millisecond)
	a, b := open()
	if err := a.Rotate(ctx, "c", "short", until); err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(ctx, "c-short", until); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for b.Check(ctx, "c", "short") != nil || b.Check(ctx, "c-short", "x") != nil {
		if time.Now().After(deadline) {
			t.Fatal("entries outlived their until by 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if time.Now().Before(until) {
		t.Fatal("entries forgotten before their until")
	}
}

// testRefreshRace: of many concurrent rotations of one token, on both
// views, exactly one succeeds.
func testRefreshRace(t *testing.T, open func() (RefreshStore, RefreshStore)) {
	a, b := open()
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		s := []RefreshStore{a, b}[i%2]
		wg.Go(func() {
			err := s.Rotate(context.Background(), "chain", "raced", time.Now().Add(time.Hour))
			switch {
			case err == nil:
				ok.Add(1)
			case !errors.Is(err, ErrRefreshReused):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d of 16 concurrent rotations of one token succeeded, want 1", ok.Load())
	}
}

// TestFleetRefreshStoreErrors: a full store refuses rotations as full, a
// broken one as unavailable (both answered 503, the token kept).
func TestFleetRefreshStoreErrors(t *testing.T) {
	ctx, until := t.Context(), time.Now().Add(time.Hour)
	full := NewFleetRefreshStore(fleet.NewMemory(1))
	if err := full.Rotate(ctx, "c", "a", until); err != nil {
		t.Fatal(err)
	}
	if err := full.Rotate(ctx, "c", "b", until); !errors.Is(err, ErrRefreshStoreFull) {
		t.Fatalf("rotation into a full store: %v, want ErrRefreshStoreFull", err)
	}
	down := NewFleetRefreshStore(failingStore{})
	if err := down.Check(ctx, "c", "a"); !errors.Is(err, ErrRefreshStoreUnavailable) {
		t.Fatalf("check against a broken store: %v, want ErrRefreshStoreUnavailable", err)
	}
	if err := down.Rotate(ctx, "c", "a", until); !errors.Is(err, ErrRefreshStoreUnavailable) {
		t.Fatalf("rotation in a broken store: %v, want ErrRefreshStoreUnavailable", err)
	}
}

// TestRefreshReuseAcrossReplicas: two replicas sharing a FleetRefreshStore
// — a token rotated on one and presented on the other is a reuse that
// revokes the chain for both; a store that is down answers 503, not 401,
// so the client keeps its token.
func TestRefreshReuseAcrossReplicas(t *testing.T) {
	store := fleet.NewMemory(0)
	a := newTestService(t, func(o *Options) { o.RefreshStore = NewFleetRefreshStore(store) })
	opts := a.opts
	opts.RefreshStore = NewFleetRefreshStore(store)
	b := &testService{Service: NewService(opts)}

	first := a.login(t, "alice", "alice-pw")
	second := a.refresh(t, first.refresh, true)
	if second.status != http.StatusOK {
		t.Fatalf("rotation on replica a: %d %s", second.status, second.body)
	}
	if got := b.refresh(t, first.refresh, true); got.status != http.StatusUnauthorized {
		t.Fatalf("the rotated token on replica b: %d %s, want 401", got.status, got.body)
	}
	if got := a.refresh(t, second.refresh, false); got.status != http.StatusUnauthorized {
		t.Fatalf("the successor on replica a after the reuse on b: %d, want 401 (chain revoked)", got.status)
	}

	opts.RefreshStore = NewFleetRefreshStore(failingStore{})
	down := &testService{Service: NewService(opts)}
	fresh := a.login(t, "alice", "alice-pw")
	if got := down.refresh(t, fresh.refresh, true); got.status != http.StatusServiceUnavailable {
		t.Fatalf("refresh against a broken store: %d %s, want 503", got.status, got.body)
	}
}
