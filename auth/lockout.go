package auth

import (
	"sync"
	"time"
)

// Lockout slows down password guessing: after MaxFailures failed logins
// within Window for one key (an IP address or a username), the key is
// locked for Base, doubling with each further lockout up to Max. A
// success clears the key. State is per process.
type Lockout struct {
	MaxFailures int
	Window      time.Duration
	Base, Max   time.Duration

	mu      sync.Mutex
	entries map[string]*lockState
	now     func() time.Time
}

type lockState struct {
	failures    int
	windowStart time.Time
	lockouts    int
	lockedUntil time.Time
}

// maxLockEntries bounds memory; past it, idle entries are pruned.
const maxLockEntries = 100000

// NewLockout returns a lockout with the given thresholds.
func NewLockout(maxFailures int, window, base, max time.Duration) *Lockout {
	return &Lockout{MaxFailures: maxFailures, Window: window, Base: base, Max: max,
		entries: map[string]*lockState{}, now: time.Now}
}

// Locked reports whether key is locked and for how much longer.
func (l *Lockout) Locked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	if !ok {
		return false, 0
	}
	if left := e.lockedUntil.Sub(l.now()); left > 0 {
		return true, left
	}
	return false, 0
}

// Failure counts a failed login for key and reports whether it is now locked.
func (l *Lockout) Failure(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.entries) >= maxLockEntries {
		l.prune(now)
	}
	e, ok := l.entries[key]
	if !ok {
		e = &lockState{windowStart: now}
		l.entries[key] = e
	}
	if now.Sub(e.windowStart) > l.Window {
		e.failures, e.windowStart = 0, now
	}
	e.failures++
	if e.failures < l.MaxFailures {
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
	delete(l.entries, key)
	l.mu.Unlock()
}

func (l *Lockout) prune(now time.Time) {
	for k, e := range l.entries {
		if now.After(e.lockedUntil) && now.Sub(e.windowStart) > l.Window {
			delete(l.entries, k)
		}
	}
}
