package pullstest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// meetStore makes two flushers meet on every key: once armed, the first
// Get of each key returns only when the second has read too, so both read
// the same version and both write on it — exactly one of the two writes must be refused
// (ErrConflict), whatever the store's speed. Later Gets of a key (the
// loser's re-read) pass. It counts the conflicts Put returns.
type meetStore struct {
	fleet.Store

	mu        sync.Mutex
	waiting   map[string]chan struct{} // first Get of a key, until the second
	met       map[string]bool          // keys whose two Gets met since arm
	conflicts atomic.Int64
}

// meetLimit bounds how long a Get waits for its partner: a flusher that
// never comes is a failure of the case, not a hang.
const meetLimit = 30 * time.Second

func newMeetStore(s fleet.Store) *meetStore {
	return &meetStore{Store: s, waiting: map[string]chan struct{}{}, met: map[string]bool{}}
}

// arm makes the next two Gets of every key meet.
func (m *meetStore) arm() {
	m.mu.Lock()
	m.met = map[string]bool{}
	m.mu.Unlock()
}

func (m *meetStore) Get(ctx context.Context, space, key string) (fleet.Item, error) {
	it, err := m.Store.Get(ctx, space, key)
	if key == sinceKey {
		return it, err
	}
	// Read first, then meet: neither returns (and writes) before both read.
	m.mu.Lock()
	switch ch, first := m.waiting[key]; {
	case m.met[key]:
		m.mu.Unlock()
	case first:
		delete(m.waiting, key)
		m.met[key] = true
		close(ch)
		m.mu.Unlock()
	default:
		ch := make(chan struct{})
		m.waiting[key] = ch
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fleet.Item{}, ctx.Err()
		case <-time.After(meetLimit):
			return fleet.Item{}, errors.New("pullstest: the other flusher never read the key")
		}
	}
	return it, err
}

func (m *meetStore) Put(ctx context.Context, space, key string, v []byte, expect int64, ttl time.Duration) (int64, error) {
	version, err := m.Store.Put(ctx, space, key, v, expect, ttl)
	if errors.Is(err, fleet.ErrConflict) && key != sinceKey {
		m.conflicts.Add(1)
	}
	return version, err
}

// sinceKey is the pulls package's marker of when tracking began, which
// Flush writes without reading first.
const sinceKey = "~since"
