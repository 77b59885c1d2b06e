package fleet_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// silentStore is a fake for a fault a real server cannot produce on
// demand: every call neither answers nor refuses until its context ends.
type silentStore struct{ fleet.Store }

func (silentStore) Get(ctx context.Context, _, _ string) (fleet.Item, error) {
	<-ctx.Done()
	return fleet.Item{}, ctx.Err()
}

func (silentStore) Put(ctx context.Context, _, _ string, _ []byte, _ int64, _ time.Duration) (int64, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

func (silentStore) Delete(ctx context.Context, _, _ string, _ int64) error {
	<-ctx.Done()
	return ctx.Err()
}

func (silentStore) List(ctx context.Context, _, _ string, _ int) ([]fleet.Item, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestWithCallTimeout: every call of a store that hangs fails within the
// bound, as ErrTimeout and context.DeadlineExceeded, while the caller's
// context lives on; a caller that gives up first gets its own error, not
// ErrTimeout; a store that answers is unchanged.
func TestWithCallTimeout(t *testing.T) {
	const bound = 50 * time.Millisecond
	s := fleet.WithCallTimeout(silentStore{}, bound)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second) // the test's own limit: a hung call fails it
	defer cancel()
	calls := map[string]func() error{
		"get":    func() error { _, err := s.Get(ctx, "gc-touch", "k"); return err },
		"put":    func() error { _, err := s.Put(ctx, "gc-touch", "k", []byte("v"), 0, 0); return err },
		"delete": func() error { return s.Delete(ctx, "gc-touch", "k", 1) },
		"list":   func() error { _, err := s.List(ctx, "gc-touch", "", 10); return err },
	}
	for name, call := range calls {
		err := call()
		if ctx.Err() != nil {
			t.Fatalf("%s: still waiting when the test's own limit passed: %v", name, err)
		}
		if !errors.Is(err, fleet.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s on a hanging store: %v, want ErrTimeout and DeadlineExceeded", name, err)
		}
	}

	gone, cancelGone := context.WithCancel(t.Context())
	cancelGone()
	if _, err := s.Get(gone, "gc-touch", "k"); !errors.Is(err, context.Canceled) || errors.Is(err, fleet.ErrTimeout) {
		t.Errorf("get for a caller that gave up: %v, want its own context.Canceled", err)
	}

	live := fleet.WithCallTimeout(fleet.NewMemory(0), bound)
	v, err := live.Put(ctx, "gc-touch", "k", []byte("v"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if it, err := live.Get(ctx, "gc-touch", "k"); err != nil || string(it.Value) != "v" || it.Version != v {
		t.Errorf("get through the bound: %+v, %v", it, err)
	}
	if fleet.WithCallTimeout(silentStore{}, 0) != (silentStore{}) {
		t.Error("a bound of 0 wraps the store")
	}
}
