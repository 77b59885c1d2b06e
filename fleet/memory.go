package fleet

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is a Store in this process's memory: the state of a single node,
// lost on restart. It holds at most max items; expired items are dropped
// when the bound is reached.
type Memory struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	items   map[string]Item // by space + "\x00" + key
	version int64
}

// DefaultMemoryItems bounds a Memory made with 0.
const DefaultMemoryItems = 200000

// ErrFull: a Memory holds as many live items as it may.
var ErrFull = fmt.Errorf("fleet: memory store full")

// NewMemory returns an empty store of at most max items (0:
// DefaultMemoryItems).
func NewMemory(max int) *Memory {
	if max <= 0 {
		max = DefaultMemoryItems
	}
	return &Memory{max: max, now: time.Now, items: map[string]Item{}}
}

func memKey(space, key string) string { return space + "\x00" + key }

// live returns the item under k when it has not expired.
func (m *Memory) live(k string, now time.Time) (Item, bool) {
	it, ok := m.items[k]
	if !ok || (!it.Expires.IsZero() && !now.Before(it.Expires)) {
		return Item{}, false
	}
	return it, true
}

// Get implements Store.
func (m *Memory) Get(ctx context.Context, space, key string) (Item, error) {
	if err := CheckArgs(space, key, nil); err != nil {
		return Item{}, err
	}
	if err := ctx.Err(); err != nil {
		return Item{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.live(memKey(space, key), m.now())
	if !ok {
		return Item{}, fmt.Errorf("%w: %s/%s", ErrNotFound, space, key)
	}
	it.Value = slices.Clone(it.Value)
	return it, nil
}

// Put implements Store.
func (m *Memory) Put(ctx context.Context, space, key string, value []byte, expect int64, ttl time.Duration) (int64, error) {
	if err := CheckArgs(space, key, value); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	k := memKey(space, key)
	cur, ok := m.live(k, now)
	if (ok && cur.Version != expect) || (!ok && expect != 0) {
		return 0, fmt.Errorf("%w: %s/%s", ErrConflict, space, key)
	}
	if _, present := m.items[k]; !present && len(m.items) >= m.max {
		m.dropExpired(now)
		if len(m.items) >= m.max {
			return 0, ErrFull
		}
	}
	m.version++
	it := Item{Key: key, Value: slices.Clone(value), Version: m.version}
	if ttl > 0 {
		it.Expires = now.Add(ttl)
	}
	m.items[k] = it
	return it.Version, nil
}

// Delete implements Store.
func (m *Memory) Delete(ctx context.Context, space, key string, expect int64) error {
	if err := CheckArgs(space, key, nil); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memKey(space, key)
	cur, ok := m.live(k, m.now())
	if !ok {
		delete(m.items, k)
		return nil
	}
	if cur.Version != expect {
		return fmt.Errorf("%w: %s/%s", ErrConflict, space, key)
	}
	delete(m.items, k)
	return nil
}

// List implements Store.
func (m *Memory) List(ctx context.Context, space, after string, limit int) ([]Item, error) {
	if err := CheckList(space, after); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit = ListLimit(limit)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	prefix := space + "\x00"
	var out []Item
	for k := range m.items {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		it, ok := m.live(k, now)
		if !ok || it.Key <= after {
			continue
		}
		it.Value = slices.Clone(it.Value)
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b Item) int { return strings.Compare(a.Key, b.Key) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (m *Memory) dropExpired(now time.Time) {
	for k := range m.items {
		if _, ok := m.live(k, now); !ok {
			delete(m.items, k)
		}
	}
}

var _ Store = (*Memory)(nil)
