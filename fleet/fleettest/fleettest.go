// Package fleettest is the contract suite every fleet.Store passes, in the
// manner of metadata/storetest: implementations call Run with a
// constructor of empty stores.
package fleettest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// Factory returns an empty store.
type Factory func(t *testing.T) fleet.Store

// Run runs the whole contract suite, each case on a new store made by
// newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, fleet.Store)
	}{
		{"GetAbsent", testGetAbsent},
		{"PutCreates", testPutCreates},
		{"PutConflict", testPutConflict},
		{"Versions", testVersions},
		{"Expiry", testExpiry},
		{"Delete", testDelete},
		{"ListPaged", testListPaged},
		{"ListLimit", testListLimit},
		{"ListMaxLimit", testListMaxLimit},
		{"InvalidArgs", testInvalidArgs},
		{"Bounds", testBounds},
		{"Cancelled", testCancelled},
		{"ConcurrentUpdate", testConcurrentUpdate},
		{"Lease", testLease},
		{"LeaseExpiry", testLeaseExpiry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// shortTTL is the TTL of the cases that wait for an expiry; waitLimit
// bounds the wait.
const (
	shortTTL  = 1500 * time.Millisecond
	waitLimit = 15 * time.Second
	pollEvery = 50 * time.Millisecond
)

// eventually polls cond until it reports true, failing the test when it
// errs or waitLimit passes first.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting until %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v", what, waitLimit)
		}
		<-tick.C
	}
}

// mustPut writes value under key with expect, failing the test on error.
func mustPut(t *testing.T, s fleet.Store, space, key, value string, expect int64, ttl time.Duration) int64 {
	t.Helper()
	v, err := s.Put(t.Context(), space, key, []byte(value), expect, ttl)
	if err != nil {
		t.Fatalf("Put %s/%s expect %d: %v", space, key, expect, err)
	}
	if v == 0 {
		t.Fatalf("Put %s/%s: version 0", space, key)
	}
	return v
}

// mustGet reads key, failing the test on error.
func mustGet(t *testing.T, s fleet.Store, space, key string) fleet.Item {
	t.Helper()
	it, err := s.Get(t.Context(), space, key)
	if err != nil {
		t.Fatalf("Get %s/%s: %v", space, key, err)
	}
	return it
}

// absent reports whether key is absent (ErrNotFound), erring on any other
// failure.
func absent(ctx context.Context, s fleet.Store, space, key string) (bool, error) {
	_, err := s.Get(ctx, space, key)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, fleet.ErrNotFound):
		return true, nil
	default:
		return false, err
	}
}

// wantItem checks it against key, value and version.
func wantItem(t *testing.T, it fleet.Item, key, value string, version int64) {
	t.Helper()
	if it.Key != key || string(it.Value) != value || it.Version != version {
		t.Fatalf("item %q = %q v%d, want %q = %q v%d", it.Key, it.Value, it.Version, key, value, version)
	}
}
