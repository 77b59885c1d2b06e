package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// LockoutSpace is the fleet space of the lockout counters.
const LockoutSpace = "lockout"

// Lockout slows down password guessing. Failed logins are counted per key
// — a (username, client address) pair, and a client address across all
// usernames — each against its own limit: after limit failures within
// Window the key is locked for Base, doubling with each further lockout up
// to Max. A success clears its pair key; the per-address count only
// decays, so that an attacker cannot reset it with an account of their
// own.
//
// The counters live in a fleet.Store (space "lockout"), changed with
// compare-and-swap (fleet.Update): replicas sharing the store count every
// failure once, whichever replica it reached, and a key locked on one is
// locked on all. A counter expires Window + Max after its last failure
// (long enough to count a window, and to escalate a lockout followed by
// more failures within a window).
//
// The lockout fails open: when the store errors or is full, a login is
// neither refused as locked nor counted, and the error is logged (at most
// once a minute). Refusing every login while the store is down would turn
// an outage of the store into an outage of the registry; bcrypt still
// bounds the rate of guesses meanwhile.
type Lockout struct {
	// MaxFailures is the limit of a (user, client) pair.
	MaxFailures int
	// MaxPerAddress is the limit of a client address over all users: high
	// enough that a NAT or a CI runner's many users are not punished for
	// one of them, low enough to stop a password spray.
	MaxPerAddress int
	// MaxEntries bounds the keys of the private store used when Store is
	// nil. Past it new keys are not counted (fail open) until counters
	// expire; the counts already held are kept, so a flood of new keys
	// cannot erase a victim's failures.
	MaxEntries int
	Window     time.Duration
	Base, Max  time.Duration
	// Store holds the counters: the deployment's shared store for
	// replicas. nil: a private fleet.Memory of MaxEntries keys (one
	// process), made at first use.
	Store fleet.Store
	// Logger reports store errors; nil discards them.
	Logger *slog.Logger

	once     sync.Once
	store    fleet.Store
	now      func() time.Time
	lastWarn atomic.Int64 // unix nanoseconds of the last store warning
}

// lockState is one key's counter as stored.
type lockState struct {
	Failures    int       `json:"failures"`
	WindowStart time.Time `json:"window_start"`
	Lockouts    int       `json:"lockouts"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
}

// Defaults of the limits NewLockout does not take.
const (
	DefaultMaxPerAddress  = 100
	DefaultLockoutEntries = 100000
)

// NewLockout returns a lockout with the given thresholds for (user,
// client) pairs, DefaultMaxPerAddress per address and
// DefaultLockoutEntries keys at most, over a private store unless Store
// is set before its first use.
func NewLockout(maxFailures int, window, base, max time.Duration) *Lockout {
	return &Lockout{MaxFailures: maxFailures, MaxPerAddress: DefaultMaxPerAddress, MaxEntries: DefaultLockoutEntries,
		Window: window, Base: base, Max: max, now: time.Now}
}

// pairKey is the lockout key of user logging in from addr.
func pairKey(user, addr string) string { return "pair:" + addr + "\x00" + user }

// addrKey is the lockout key of every login from addr.
func addrKey(addr string) string { return "addr:" + addr }

// storeKey is key in the store: a digest, so that a username of any
// length or content makes a valid key (and none is stored in clear).
func storeKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// counters is the store in use.
func (l *Lockout) counters() fleet.Store {
	l.once.Do(func() {
		l.store = l.Store
		if l.store == nil {
			l.store = fleet.NewMemory(l.MaxEntries)
		}
		if l.now == nil {
			l.now = time.Now
		}
	})
	return l.store
}

// Locked reports whether key is locked and for how much longer.
func (l *Lockout) Locked(ctx context.Context, key string) (bool, time.Duration) {
	it, err := l.counters().Get(ctx, LockoutSpace, storeKey(key))
	if err != nil {
		if !errors.Is(err, fleet.ErrNotFound) {
			l.storeFailed(ctx, "reading a lockout counter", err)
		}
		return false, 0
	}
	var e lockState
	if err := json.Unmarshal(it.Value, &e); err != nil {
		l.storeFailed(ctx, "reading a lockout counter", err)
		return false, 0
	}
	if left := e.LockedUntil.Sub(l.now()); left > 0 {
		return true, left
	}
	return false, 0
}

// Failure counts a failed login for key, limited to limit failures per
// window, and reports whether key is now locked.
func (l *Lockout) Failure(ctx context.Context, key string, limit int) bool {
	var locked bool
	_, err := fleet.Update(ctx, l.counters(), LockoutSpace, storeKey(key), l.Window+l.Max, func(cur []byte, exists bool) ([]byte, error) {
		var e lockState
		if exists {
			if err := json.Unmarshal(cur, &e); err != nil {
				e = lockState{} // a counter that does not decode starts again
			}
		}
		now := l.now()
		if !exists || now.Sub(e.WindowStart) > l.Window {
			e.Failures, e.WindowStart = 0, now
		}
		e.Failures++
		locked = e.Failures >= limit
		if locked {
			d := l.Base << min(e.Lockouts, 20)
			if d > l.Max || d <= 0 {
				d = l.Max
			}
			e.Lockouts++
			e.Failures, e.WindowStart = 0, now
			e.LockedUntil = now.Add(d)
		}
		return json.Marshal(e)
	})
	if err != nil {
		l.storeFailed(ctx, "counting a failed login", err)
		return false
	}
	return locked
}

// successAttempts bounds Success's retries against concurrent failures.
const successAttempts = 4

// Success clears key's failures and lockouts.
func (l *Lockout) Success(ctx context.Context, key string) {
	s, k := l.counters(), storeKey(key)
	var err error
	for range successAttempts {
		var it fleet.Item
		if it, err = s.Get(ctx, LockoutSpace, k); errors.Is(err, fleet.ErrNotFound) {
			return
		} else if err != nil {
			break
		}
		if err = s.Delete(ctx, LockoutSpace, k, it.Version); !errors.Is(err, fleet.ErrConflict) {
			break
		}
	}
	if err != nil {
		l.storeFailed(ctx, "clearing a lockout counter", err)
	}
}

// Len is the number of keys held (it lists the store: for tests).
func (l *Lockout) Len(ctx context.Context) (int, error) {
	n, after := 0, ""
	for {
		items, err := l.counters().List(ctx, LockoutSpace, after, fleet.MaxListLimit)
		if err != nil {
			return n, fmt.Errorf("auth: listing lockout counters: %w", err)
		}
		n += len(items)
		if len(items) < fleet.MaxListLimit {
			return n, nil
		}
		after = items[len(items)-1].Key
	}
}

// storeFailed logs a store error, at most once a minute.
func (l *Lockout) storeFailed(ctx context.Context, doing string, err error) {
	now := time.Now().UnixNano()
	last := l.lastWarn.Load()
	if now-last < int64(time.Minute) || !l.lastWarn.CompareAndSwap(last, now) || l.Logger == nil {
		return
	}
	l.Logger.WarnContext(ctx, "login lockout unavailable; failing open", "doing", doing, "error", err.Error())
}
