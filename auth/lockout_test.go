package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// tryLogin tries user's password with a wrong password from addr.
func (ts *testService) tryLogin(t *testing.T, user, password, addr string, header http.Header) int {
	t.Helper()
	return ts.post(t, url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}, addr, header).status
}

// TestLockoutSparesOthersBehindOneAddress reproduces issue 12 finding 7:
// five bad logins from one address (a CI runner, a NAT, a load balancer)
// locked out every user behind it, admins included. Now the (user,
// address) pair locks; other users at that address still log in, and only
// a spray past the per-address ceiling locks the address.
func TestLockoutSparesOthersBehindOneAddress(t *testing.T) {
	ts := newTestService(t, func(o *Options) { o.Lockout.MaxPerAddress = 20 })
	const nat = "198.51.100.7:40000"
	for i := range 5 {
		if st := ts.tryLogin(t, "alice", "guess", nat, nil); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, st)
		}
	}
	if st := ts.tryLogin(t, "alice", "alice-pw", nat, nil); st != http.StatusTooManyRequests {
		t.Fatalf("alice after 5 failures from her address: %d, want 429", st)
	}
	if st := ts.tryLogin(t, "root", "root-pw", nat, nil); st != http.StatusOK {
		t.Fatalf("root (admin) behind the same address: %d, want 200", st)
	}
	if st := ts.tryLogin(t, "alice", "alice-pw", "192.0.2.1:1", nil); st != http.StatusOK {
		t.Fatalf("alice from another address: %d, want 200", st)
	}

	// A password spray over many names hits the per-address ceiling.
	for i := range 15 {
		ts.tryLogin(t, fmt.Sprintf("user%d", i), "guess", nat, nil)
	}
	if st := ts.tryLogin(t, "root", "root-pw", nat, nil); st != http.StatusTooManyRequests {
		t.Fatalf("after 20 failures from one address: %d, want 429", st)
	}
}

// TestLockoutForwardedFor: X-Forwarded-For is believed from trusted
// proxies only. An untrusted peer rotating spoofed X-Forwarded-For values
// is still locked by its own address; behind a trusted proxy, each client
// is keyed by its forwarded address, so one client's failures do not lock
// another's.
func TestLockoutForwardedFor(t *testing.T) {
	ts := newTestService(t, func(o *Options) { o.TrustedProxies = mustPrefixes(t, "10.0.0.0/8") })
	const attacker = "203.0.113.5:5555"
	for i := range 5 {
		spoof := http.Header{"X-Forwarded-For": {fmt.Sprintf("192.0.2.%d", i+1)}}
		ts.tryLogin(t, "alice", "guess", attacker, spoof)
	}
	fresh := http.Header{"X-Forwarded-For": {"192.0.2.99"}}
	if st := ts.tryLogin(t, "alice", "alice-pw", attacker, fresh); st != http.StatusTooManyRequests {
		t.Fatalf("untrusted peer with a new spoofed X-Forwarded-For: %d, want 429", st)
	}

	const proxy = "10.1.2.3:443"
	for range 5 {
		ts.tryLogin(t, "root", "guess", proxy, http.Header{"X-Forwarded-For": {"198.51.100.1"}})
	}
	if st := ts.tryLogin(t, "root", "root-pw", proxy, http.Header{"X-Forwarded-For": {"198.51.100.1"}}); st != http.StatusTooManyRequests {
		t.Fatalf("the failing client behind the proxy: %d, want 429", st)
	}
	if st := ts.tryLogin(t, "root", "root-pw", proxy, http.Header{"X-Forwarded-For": {"198.51.100.2"}}); st != http.StatusOK {
		t.Fatalf("another client behind the same proxy: %d, want 200", st)
	}
}

// TestClientAddr: the right-most untrusted X-Forwarded-For hop, and only
// when the peer is a trusted proxy.
func TestClientAddr(t *testing.T) {
	trusted := mustPrefixes(t, "10.0.0.0/8", "fd00::/8")
	for _, c := range []struct{ peer, xff, want string }{
		{"203.0.113.5:1", "1.2.3.4", "203.0.113.5"},
		{"10.0.0.1:1", "", "10.0.0.1"},
		{"10.0.0.1:1", "1.2.3.4", "1.2.3.4"},
		{"10.0.0.1:1", "6.6.6.6, 1.2.3.4, 10.9.9.9", "1.2.3.4"},
		{"10.0.0.1:1", "10.2.2.2, 10.9.9.9", "10.2.2.2"},
		{"10.0.0.1:1", "1.2.3.4, garbage", "10.0.0.1"},
		{"10.0.0.1:1", "[2001:db8::1]:80", "2001:db8::1"},
		{"[fd00::1]:1", "::ffff:1.2.3.4", "1.2.3.4"},
		{"[::ffff:203.0.113.5]:1", "", "203.0.113.5"},
		{"pipe", "", "pipe"},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := ClientAddr(r, trusted); got != c.want {
			t.Errorf("peer %s X-Forwarded-For %q: %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}

// TestLockoutBoundedUnderFlood reproduces finding 7 (unbounded map): a
// flood of distinct users and addresses used to grow the map past its
// "bound" whenever nothing was idle enough to prune. Now the store never
// holds more than MaxEntries keys, through the token endpoint too. Past
// the bound new keys are not counted (fail open), but the keys counted
// before the flood keep their counts: a flood cannot erase a victim's
// failures.
func TestLockoutBoundedUnderFlood(t *testing.T) {
	ctx := t.Context()
	l := NewLockout(5, time.Hour, time.Minute, time.Hour)
	l.MaxEntries = 1000
	for range 4 {
		l.Failure(ctx, "pair:victim", 5)
	}
	for i := range 20000 {
		l.Failure(ctx, fmt.Sprintf("pair:%d", i), 5)
		if i%1000 == 0 || i == 19999 {
			if n := lockoutLen(t, l); n > l.MaxEntries {
				t.Fatalf("after %d keys the lockout holds %d, bound %d", i+1, n, l.MaxEntries)
			}
		}
	}
	if !l.Failure(ctx, "pair:victim", 5) {
		t.Fatal("the flood made the victim's key forget its failures")
	}
	for range 5 {
		if l.Failure(ctx, "pair:19999", 5) {
			t.Fatal("a key past the bound was counted")
		}
	}

	// Through the endpoint (a known user, so each try costs a MinCost
	// bcrypt, not the unknown-user timing equaliser's).
	ts := newTestService(t, func(o *Options) { o.Lockout.MaxEntries = 20 })
	for i := range 100 {
		ts.tryLogin(t, "alice", "x", fmt.Sprintf("192.0.2.%d:1", i), nil)
	}
	if n := lockoutLen(t, ts.opts.Lockout); n > 20 {
		t.Fatalf("token endpoint flood: lockout holds %d keys, bound 20", n)
	}
}

func lockoutLen(t *testing.T, l *Lockout) int {
	t.Helper()
	n, err := l.Len(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLockoutCountsAcrossReplicas: two replicas' lockouts over one store
// count every failure once, whichever replica it reached: failures split
// between them lock the key after the limit in total, on both, and
// concurrent failures are never lost.
func TestLockoutCountsAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	store := fleet.NewMemory(0)
	a, b := NewLockout(5, time.Hour, time.Minute, time.Hour), NewLockout(5, time.Hour, time.Minute, time.Hour)
	a.Store, b.Store = store, store
	for i, l := range []*Lockout{a, b, a, b} {
		if l.Failure(ctx, "pair:alice", 5) {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	if !b.Failure(ctx, "pair:alice", 5) {
		t.Fatal("5 failures split over two replicas did not lock")
	}
	if locked, _ := a.Locked(ctx, "pair:alice"); !locked {
		t.Fatal("the key locked on one replica is not locked on the other")
	}
	a.Success(ctx, "pair:alice")
	if locked, _ := b.Locked(ctx, "pair:alice"); locked {
		t.Fatal("a success on one replica did not clear the other's view")
	}

	// 2 × 50 concurrent failures against a limit of 100: exactly one
	// reaches it.
	var locks atomic.Int32
	var wg sync.WaitGroup
	for _, l := range []*Lockout{a, b} {
		wg.Go(func() {
			for range 50 {
				if l.Failure(ctx, "addr:198.51.100.7", 100) {
					locks.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if locks.Load() != 1 {
		t.Fatalf("%d of 100 concurrent failures reported the lockout, want exactly 1 (failures lost or double-counted)", locks.Load())
	}
}

// TestLockoutFailsOpen: a store that errors neither locks anyone out nor
// stops logins.
func TestLockoutFailsOpen(t *testing.T) {
	ctx := t.Context()
	l := NewLockout(1, time.Hour, time.Minute, time.Hour)
	l.Store = failingStore{}
	if l.Failure(ctx, "pair:alice", 1) {
		t.Fatal("a failure counted in a broken store locked")
	}
	if locked, _ := l.Locked(ctx, "pair:alice"); locked {
		t.Fatal("a broken store locked a key")
	}
	l.Success(ctx, "pair:alice")
}

// failingStore is a fleet.Store whose every call fails, as a store that
// is down does (a fault a real store cannot be made to produce on demand).
type failingStore struct{}

var errStoreDown = errors.New("store down")

func (failingStore) Get(context.Context, string, string) (fleet.Item, error) {
	return fleet.Item{}, errStoreDown
}
func (failingStore) Put(context.Context, string, string, []byte, int64, time.Duration) (int64, error) {
	return 0, errStoreDown
}
func (failingStore) Delete(context.Context, string, string, int64) error { return errStoreDown }
func (failingStore) List(context.Context, string, string, int) ([]fleet.Item, error) {
	return nil, errStoreDown
}
