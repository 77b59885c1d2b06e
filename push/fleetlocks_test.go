package push

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/fleet"
)

// replicas are n FleetLocks sharing one store, as n replicas share the
// deployment's store.
func replicas(store fleet.Store, n int, ttl time.Duration) []*FleetLocks {
	out := make([]*FleetLocks, n)
	for i := range out {
		out[i] = NewFleetLocks(store, FleetLocksOptions{Replica: fmt.Sprintf("replica-%d", i), TTL: ttl})
	}
	return out
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFleetLocksExcludeAcrossReplicas: goroutines on two replicas locking
// overlapping tag sets (in any order) are never inside together, and none
// deadlocks.
func TestFleetLocksExcludeAcrossReplicas(t *testing.T) {
	locks := replicas(fleet.NewMemory(0), 2, 0)
	sets := [][]string{{"app:a", "app:b"}, {"app:b", "app:c"}, {"app:c", "app:a"}, {"app:b"}}
	inside := map[string]*atomic.Int32{"app:a": {}, "app:b": {}, "app:c": {}}
	var overlaps, done atomic.Int32
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Go(func() {
			for i := range 20 {
				keys := sets[(g+i)%len(sets)]
				unlock, err := locks[g%2].Lock(t.Context(), keys)
				if err != nil {
					t.Error(err)
					return
				}
				for _, k := range keys {
					if inside[k].Add(1) != 1 {
						overlaps.Add(1)
					}
				}
				for _, k := range keys {
					inside[k].Add(-1)
				}
				unlock()
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if overlaps.Load() != 0 || done.Load() != 12*20 {
		t.Fatalf("%d overlapping holders, %d of %d locks taken", overlaps.Load(), done.Load(), 12*20)
	}
}

// TestFleetLocksWaitEndsWithContext: a Lock waiting for a key another
// replica holds returns ctx's error when ctx ends, and holds nothing — the
// key it had taken before (sorted order) is free again.
func TestFleetLocksWaitEndsWithContext(t *testing.T) {
	store := fleet.NewMemory(0)
	locks := replicas(store, 2, 0)
	unlock, err := locks[0].Lock(t.Context(), []string{"app:z"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := locks[1].Lock(ctx, []string{"app:z", "app:a"})
		errc <- err
	}()
	waitFor(t, "the waiter to take app:a", func() bool {
		_, err := store.Get(t.Context(), LockSpace, "app:a")
		return err == nil
	})
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v, want context.Canceled", err)
	}
	if _, err := store.Get(t.Context(), LockSpace, "app:a"); !errors.Is(err, fleet.ErrNotFound) {
		t.Fatalf("the key taken before the wait is still held: %v", err)
	}
	short, cancelShort := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancelShort()
	if _, err := locks[1].Lock(short, []string{"app:z"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a held key was taken: %v", err)
	}
	unlock()
	again, err := locks[1].Lock(t.Context(), []string{"app:z", "app:a"})
	if err != nil {
		t.Fatalf("after the holder unlocked: %v", err)
	}
	again()
}

// TestFleetLocksOutliveTheirTTLWhileHeld: a holder renews its locks, so a
// lock held for several TTLs stays exclusive; unlock frees it at once.
func TestFleetLocksOutliveTheirTTLWhileHeld(t *testing.T) {
	const ttl = 150 * time.Millisecond
	store := fleet.NewMemory(0)
	locks := replicas(store, 2, ttl)
	unlock, err := locks[0].Lock(t.Context(), []string{"app:v1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*ttl)
	defer cancel()
	if _, err := locks[1].Lock(ctx, []string{"app:v1"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a lock held for 4 TTLs was taken by another replica: %v", err)
	}
	unlock()
	if _, err := store.Get(t.Context(), LockSpace, "app:v1"); !errors.Is(err, fleet.ErrNotFound) {
		t.Fatalf("unlock left the lock in the store: %v", err)
	}
}

// TestFleetLocksTakeOverFromADeadHolder: a lock whose holder died (never
// released, never renewed) is taken once its TTL has passed, not before.
func TestFleetLocksTakeOverFromADeadHolder(t *testing.T) {
	store := fleet.NewMemory(0)
	if _, err := fleet.Acquire(t.Context(), store, LockSpace, "app:latest", "dead-replica/1", 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	dead, err := store.Get(t.Context(), LockSpace, "app:latest")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	unlock, err := replicas(store, 1, 0)[0].Lock(ctx, []string{"app:latest"})
	if err != nil {
		t.Fatalf("the dead holder's lock was never taken over: %v", err)
	}
	defer unlock()
	if time.Now().Before(dead.Expires) {
		t.Fatalf("the lock was taken before the dead holder's TTL ended (%s)", dead.Expires)
	}
}

// unreachableLocks is a fault fake: a TagLocks whose shared store is down
// (a real DynamoDB cannot be made to fail on demand inside one test).
type unreachableLocks struct{}

func (unreachableLocks) Lock(context.Context, []string) (func(), error) {
	return nil, errors.New("fleet/dynamodb: put tag-locks/x: dial tcp 10.0.0.7:8000: connection refused")
}

// TestLockStoreDownRefusesWithoutInternals: a push whose tag locks cannot
// be taken is refused 503, stores nothing, and its answer does not carry
// the store's error text.
func TestLockStoreDownRefusesWithoutInternals(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Locks = unreachableLocks{} })
	raw := h.image("team/app", "one")
	err := h.pipeline.Run(context.Background(), newPush("team/app", raw, "v1"))
	var ec errcode.Error
	if !errors.As(err, &ec) || ec.Code != errcode.ErrorCodeUnavailable {
		t.Fatalf("err = %v, want UNAVAILABLE", err)
	}
	if strings.Contains(ec.Error(), "10.0.0.7") || ec.Detail != nil {
		t.Fatalf("answer leaks the store's error: %q detail %v", ec.Error(), ec.Detail)
	}
	if h.stored("team/app", digest.FromBytes(raw)) {
		t.Fatal("manifest stored although the locks were not taken")
	}
}

// downStore is a fault fake: a fleet.Store whose every call fails, as a
// shared store that cannot be reached.
type downStore struct{ fleet.Store }

func (downStore) Get(context.Context, string, string) (fleet.Item, error) {
	return fleet.Item{}, errors.New("connection refused")
}

func (downStore) Put(context.Context, string, string, []byte, int64, time.Duration) (int64, error) {
	return 0, errors.New("connection refused")
}

// TestLocksFallBackToTheProcessWhenTheStoreIsDown: with the shared store
// unreachable, Lock still excludes within the process instead of failing.
func TestLocksFallBackToTheProcessWhenTheStoreIsDown(t *testing.T) {
	locks := NewFleetLocks(downStore{}, FleetLocksOptions{})
	unlock, err := locks.Lock(context.Background(), []string{"r:v1"})
	if err != nil {
		t.Fatalf("Lock with the store down: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := locks.Lock(ctx, []string{"r:v1"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock of a held key = %v, want it to wait until its deadline", err)
	}
	unlock()
	again, err := locks.Lock(context.Background(), []string{"r:v1"})
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	again()
}
