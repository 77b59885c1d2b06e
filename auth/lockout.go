package auth

import (
	"container/list"
	"sync"
	"time"
)

// Lockout slows down password guessing. Failed logins are counted per key
// — a (username, client address) pair, and a client address across all
// usernames — each against its own limit: after limit failures within
// Window the key is locked for Base, doubling with each further lockout up
// to Max. A success clears its pair key; the per-address count only
// decays, so that an attacker cannot reset it with an account of their
// own.
//
// Memory is bounded: at most MaxEntries keys are kept; past it the least
// recently touched key is evicted (so a flood of new keys can make an old
// one forget its failures, never make the map grow). State is per process.
type Lockout struct {
	// MaxFailures is the limit of a (user, client) pair.
	MaxFailures int
	// MaxPerAddress is the limit of a client address over all users: high
	// enough that a NAT or a CI runner's many users are not punished for
	// one of them, low enough to stop a password spray.
	MaxPerAddress int
	// MaxEntries bounds the keys held.
	MaxEntries int
	Window     time.Duration
	Base, Max  time.Duration

	mu      sync.Mutex
	entries map[string]*list.Element // of *lockState; front: most recent
	lru     *list.List
	now     func() time.Time
}

type lockState struct {
	key         string
	failures    int
	windowStart time.Time
	lockouts    int
	lockedUntil time.Time
}

// Defaults of the limits NewLockout does not take.
const (
	DefaultMaxPerAddress  = 100
	DefaultLockoutEntries = 100000
)

// NewLockout returns a lockout with the given thresholds for (user,
// client) pairs, DefaultMaxPerAddress per address and
// DefaultLockoutEntries keys at most.
func NewLockout(maxFailures int, window, base, max time.Duration) *Lockout {
	return &Lockout{MaxFailures: maxFailures, MaxPerAddress: DefaultMaxPerAddress, MaxEntries: DefaultLockoutEntries,
		Window: window, Base: base, Max: max,
		entries: map[string]*list.Element{}, lru: list.New(), now: time.Now}
}

// pairKey is the lockout key of user logging in from addr.
func pairKey(user, addr string) string { return "pair:" + addr + "\x00" + user }

// addrKey is the lockout key of every login from addr.
func addrKey(addr string) string { return "addr:" + addr }

// Locked reports whether key is locked and for how much longer.
func (l *Lockout) Locked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.entries[key]
	if !ok {
		return false, 0
	}
	if left := el.Value.(*lockState).lockedUntil.Sub(l.now()); left > 0 {
		return true, left
	}
	return false, 0
}

// Failure counts a failed login for key, limited to limit failures per
// window, and reports whether key is now locked.
func (l *Lockout) Failure(key string, limit int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var e *lockState
	if el, ok := l.entries[key]; ok {
		l.lru.MoveToFront(el)
		e = el.Value.(*lockState)
	} else {
		for l.MaxEntries > 0 && l.lru.Len() >= l.MaxEntries {
			oldest := l.lru.Back()
			delete(l.entries, oldest.Value.(*lockState).key)
			l.lru.Remove(oldest)
		}
		e = &lockState{key: key, windowStart: now}
		l.entries[key] = l.lru.PushFront(e)
	}
	if now.Sub(e.windowStart) > l.Window {
		e.failures, e.windowStart = 0, now
	}
	e.failures++
	if e.failures < limit {
		return false
	}
	d := l.Base << min(e.lockouts, 20)
	if d > l.Max || d <= 0 {
		d = l.Max
	}
	e.lockouts++
	e.failures, e.windowStart = 0, now
	e.lockedUntil = now.Add(d)
	return true
}

// Success clears key's failures and lockouts.
func (l *Lockout) Success(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.entries[key]; ok {
		delete(l.entries, key)
		l.lru.Remove(el)
	}
}

// Len is the number of keys held.
func (l *Lockout) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
