package security

import (
	"sync"
	"time"
)

// recentKeys bounds the keys a process remembers having counted lately.
const recentKeys = 100000

// recent remembers, per process and in bounded memory, when keys were
// last passed on to the detectors: a token used for the hundredth time
// from the same address, or a robot reading a repository again, costs a
// map lookup instead of a store round trip. It holds two generations of
// at most max/2 keys; when the current one is full it becomes the old one
// and the oldest generation is forgotten (forgetting only costs a store
// round trip).
type recent struct {
	mu       sync.Mutex
	max      int
	cur, old map[string]time.Time
}

func newRecent(max int) *recent {
	return &recent{max: max, cur: map[string]time.Time{}, old: map[string]time.Time{}}
}

// fresh reports whether key was not passed on within every before now,
// and if so records it as passed on now.
func (r *recent) fresh(key string, now time.Time, every time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	last, ok := r.cur[key]
	if !ok {
		last, ok = r.old[key]
	}
	if ok && now.Sub(last) < every && !now.Before(last) {
		return false
	}
	if len(r.cur) >= r.max/2 {
		r.old, r.cur = r.cur, make(map[string]time.Time, len(r.cur))
	}
	r.cur[key] = now
	return true
}
