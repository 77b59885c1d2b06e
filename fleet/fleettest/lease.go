package fleettest

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// concurrentWriters × updatesEach Updates of one counter. Each Update
// loses at most (concurrentWriters-1)×updatesEach races, below fleet's
// bound of attempts, so every one must succeed.
const (
	concurrentWriters = 16
	updatesEach       = 2
)

// testConcurrentUpdate: concurrent Updates of one counter lose no
// increment.
func testConcurrentUpdate(t *testing.T, s fleet.Store) {
	incr := func(cur []byte, exists bool) ([]byte, error) {
		n := 0
		if exists {
			var err error
			if n, err = strconv.Atoi(string(cur)); err != nil {
				return nil, err
			}
		}
		return []byte(strconv.Itoa(n + 1)), nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, concurrentWriters*updatesEach)
	for range concurrentWriters {
		wg.Go(func() {
			for range updatesEach {
				if _, err := fleet.Update(t.Context(), s, "counters", "pushes", 0, incr); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Update: %v", err)
	}
	if got, want := string(mustGet(t, s, "counters", "pushes").Value), strconv.Itoa(concurrentWriters*updatesEach); got != want {
		t.Fatalf("counter %s, want %s", got, want)
	}
}

// testLease: one owner at a time; the holder renews and releases; the
// same owner acquiring again takes its lease over.
func testLease(t *testing.T, s fleet.Store) {
	ctx := t.Context()
	a, err := fleet.Acquire(ctx, s, "leases", "gc", "replica-a", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if a.Key() != "gc" {
		t.Errorf("Key %q", a.Key())
	}
	if _, err := fleet.Acquire(ctx, s, "leases", "gc", "replica-b", time.Hour); !errors.Is(err, fleet.ErrHeld) {
		t.Fatalf("Acquire of a held lease: got %v, want ErrHeld", err)
	}
	before := mustGet(t, s, "leases", "gc")
	if err := a.Renew(ctx); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	after := mustGet(t, s, "leases", "gc")
	if string(after.Value) != "replica-a" || after.Version == before.Version || after.Expires.Before(before.Expires) {
		t.Errorf("after Renew: %q v%d until %v (before: v%d until %v)", after.Value, after.Version, after.Expires, before.Version, before.Expires)
	}
	if _, err := fleet.Acquire(ctx, s, "leases", "other", "replica-b", time.Hour); err != nil {
		t.Errorf("another key's lease: %v", err)
	}

	again, err := fleet.Acquire(ctx, s, "leases", "gc", "replica-a", time.Hour)
	if err != nil {
		t.Fatalf("Acquire by the holder: %v", err)
	}
	if err := a.Renew(ctx); !errors.Is(err, fleet.ErrHeld) {
		t.Errorf("Renew of the lease taken over: got %v, want ErrHeld", err)
	}
	if err := again.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := again.Release(ctx); err != nil {
		t.Errorf("second Release: %v", err)
	}
	b, err := fleet.Acquire(ctx, s, "leases", "gc", "replica-b", time.Hour)
	if err != nil {
		t.Fatalf("Acquire of a released lease: %v", err)
	}
	if err := again.Renew(ctx); !errors.Is(err, fleet.ErrHeld) {
		t.Errorf("Renew of a released lease: got %v, want ErrHeld", err)
	}
	if err := b.Renew(ctx); err != nil {
		t.Errorf("new holder's Renew: %v", err)
	}
	if _, err := fleet.Acquire(ctx, s, "leases", "gc", "replica-a", 0); err == nil {
		t.Errorf("Acquire with ttl 0 succeeded")
	}
}

// testLeaseExpiry: a lease not renewed expires; another owner then takes
// it, the old holder's Renew fails with ErrHeld and its Release leaves the
// new holder's lease alone.
func testLeaseExpiry(t *testing.T, s fleet.Store) {
	ctx := t.Context()
	start := time.Now()
	a, err := fleet.Acquire(ctx, s, "leases", "gc", "replica-a", shortTTL)
	if err != nil {
		t.Fatal(err)
	}
	var b *fleet.Lease
	eventually(t, "replica-b acquires the expired lease", func() (bool, error) {
		var err error
		b, err = fleet.Acquire(ctx, s, "leases", "gc", "replica-b", time.Hour)
		switch {
		case errors.Is(err, fleet.ErrHeld):
			return false, nil
		case err == nil && time.Since(start) < shortTTL:
			return false, errors.New("replica-b acquired the lease before its TTL ended")
		}
		return err == nil, err
	})
	if err := a.Renew(ctx); !errors.Is(err, fleet.ErrHeld) {
		t.Errorf("Renew of a lost lease: got %v, want ErrHeld", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Errorf("Release of a lost lease: %v", err)
	}
	if it := mustGet(t, s, "leases", "gc"); string(it.Value) != "replica-b" {
		t.Fatalf("holder %q after the old holder's Release, want replica-b", it.Value)
	}
	if err := b.Renew(ctx); err != nil {
		t.Errorf("new holder's Renew: %v", err)
	}
}
