package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// tokenCache remembers verified tokens until they expire. It holds at most
// max entries; when full it drops expired ones, then everything.
type tokenCache struct {
	mu      sync.RWMutex
	max     int
	entries map[[32]byte]*Claims
	now     func() time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, entries: make(map[[32]byte]*Claims), now: time.Now}
}

func (c *tokenCache) get(token string) (*Claims, bool) {
	k := sha256.Sum256([]byte(token))
	c.mu.RLock()
	cl, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || !c.now().Before(cl.ExpiresAt.Time) {
		return nil, false
	}
	return cl, true
}

func (c *tokenCache) put(token string, cl *Claims) {
	k := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		now := c.now()
		for key, e := range c.entries {
			if !now.Before(e.ExpiresAt.Time) {
				delete(c.entries, key)
			}
		}
		if len(c.entries) >= c.max {
			clear(c.entries)
		}
	}
	c.entries[k] = cl
}
