package push

import (
	"context"
	"slices"
	"sync"
)

// TagLocks serialise the moves of each tag, so that reading what a tag
// names and pointing it elsewhere are one step: of two pushes to the same
// tag, the second sees the first's manifest, and both records are true.
//
// Lock blocks until it holds every key, or ctx ends (then it holds none
// and returns ctx's error). Keys are taken in sorted order, so two callers
// locking overlapping sets cannot deadlock. unlock releases them all.
type TagLocks interface {
	Lock(ctx context.Context, keys []string) (unlock func(), err error)
}

// LocalLocks are TagLocks for one process. Replicas sharing storage need
// locks in the shared store instead.
type LocalLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed when released
}

// NewLocalLocks returns locks held in this process's memory.
func NewLocalLocks() *LocalLocks { return &LocalLocks{held: map[string]chan struct{}{}} }

// Lock implements TagLocks.
func (l *LocalLocks) Lock(ctx context.Context, keys []string) (func(), error) {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	var taken []string
	release := func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, k := range taken {
			close(l.held[k])
			delete(l.held, k)
		}
	}
	for _, k := range keys {
		if err := l.take(ctx, k); err != nil {
			release()
			return nil, err
		}
		taken = append(taken, k)
	}
	return release, nil
}

// take waits for key to be free and takes it.
func (l *LocalLocks) take(ctx context.Context, key string) error {
	for {
		l.mu.Lock()
		busy, ok := l.held[key]
		if !ok {
			l.held[key] = make(chan struct{})
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// TagKey is the lock key of tag in repo.
func TagKey(repo, tag string) string { return repo + ":" + tag }

// tagKeys are the keys of every tag pushes move.
func tagKeys(pushes []*Push) []string {
	var keys []string
	for _, x := range pushes {
		for _, t := range x.Tags {
			keys = append(keys, TagKey(x.Repository, t))
		}
	}
	return keys
}
