package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/metadata"
)

// The spaces of the shared outbox in a fleet.Store.
const (
	// spacePending holds the deliveries waiting: key SHARD/SEQ, value a
	// delivery with its body.
	spacePending = "webhooks"
	// spaceDead holds the dead letters for sharedDeadTTL: key SEQ.
	spaceDead = "webhooks-dead"
	// spaceShards names the shards that may hold deliveries (value: the
	// owner that created the shard), so that replicas find those of the dead.
	spaceShards = "webhook-shards"
	// spaceLeases holds the lease on each shard: whoever holds it sends
	// that shard's deliveries.
	spaceLeases = "webhook-leases"
)

// sharedDeadTTL is how long a dead letter is kept in the shared outbox
// (the store drops it then); the bbolt outbox keeps a count instead.
const sharedDeadTTL = 7 * 24 * time.Hour

// sharedOutbox is the outbox of replicas, in a fleet.Store that outlives
// any of them. Deliveries are grouped in shards: each process enqueues into
// a shard of its own (a time-ordered id, new for every process), holds a
// lease on it and renews it while it lives. Whoever holds a shard's lease
// sends that shard's deliveries; a replica that dies stops renewing, and
// once its lease ends any live replica takes the shard over (acquires the
// lease, loads the deliveries) and sends them, then deletes the emptied
// shard. Only the holder writes a shard's deliveries, each write a
// compare-and-swap on the item's version, and a holder starts a request
// only while its lease has at least half its TTL to run, so that two
// replicas never send one delivery while a lease is live.
//
// Leases per shard rather than per delivery keep the cost flat: renewing
// costs one write per replica per ttl/3 whatever the backlog, finding the
// dead costs one listing of the (few) shards, and a backlog is read once,
// when its shard is taken over.
type sharedOutbox struct {
	store  fleet.Store
	owner  string
	ttl    time.Duration
	logger *slog.Logger
	c      claims

	ctx    context.Context // of the tending loop, cancelled by close
	cancel context.CancelFunc
	done   sync.WaitGroup

	mu     sync.Mutex
	own    string                // the shard new deliveries go to ("" while there is none)
	shards map[string]*heldShard // the shards whose lease this process holds
	held   map[string]int64      // key → version, of the deliveries held
	dead   int                   // dead letters, as last counted
	deadAt time.Time
}

// heldShard is a shard this process holds. lease is used by the tending
// loop only (and close, once the loop has stopped); validUntil is read by
// the senders under sharedOutbox.mu.
type heldShard struct {
	lease *fleet.Lease
	// validUntil is when the lease ends at the latest, on this process's
	// monotonic clock: the start of the write that last took or renewed it,
	// plus the TTL.
	validUntil time.Time
}

func newSharedOutbox(store fleet.Store, owner string, ttl time.Duration, logger *slog.Logger) *sharedOutbox {
	ctx, cancel := context.WithCancel(context.Background())
	return &sharedOutbox{store: store, owner: owner, ttl: ttl, logger: logger, ctx: ctx, cancel: cancel,
		shards: map[string]*heldShard{}, held: map[string]int64{}}
}

// shardOf is the shard of a pending key, seqOf its time-ordered id.
func shardOf(key string) string { s, _, _ := strings.Cut(key, "/"); return s }
func seqOf(key string) string   { _, s, _ := strings.Cut(key, "/"); return s }

// inShard matches the keys of shard id.
func inShard(id string) func(string) bool {
	return func(key string) bool { return strings.HasPrefix(key, id+"/") }
}

// start implements outbox: it opens this process's shard and starts the
// loop that renews leases and takes over the shards of dead replicas (its
// first round runs at once).
func (s *sharedOutbox) start(c claims) error {
	s.c = c
	if err := s.openOwnShard(s.ctx); err != nil {
		return err
	}
	s.done.Go(s.loop)
	return nil
}

// enqueue implements outbox: one write per delivery, into this process's
// shard.
func (s *sharedOutbox) enqueue(ctx context.Context, ds []delivery) ([]string, error) {
	s.mu.Lock()
	own := s.own
	s.mu.Unlock()
	if own == "" {
		return nil, errors.New("notify: shared outbox: this replica holds no shard (the shared store is not answering)")
	}
	keys := make([]string, 0, len(ds))
	for _, d := range ds {
		v, err := json.Marshal(d)
		if err != nil {
			return keys, fmt.Errorf("notify: encoding delivery: %w", err)
		}
		if len(v) > fleet.MaxValueBytes {
			return keys, fmt.Errorf("notify: event %s: %d bytes with its delivery state, over the shared outbox's limit of %d",
				d.EventID, len(v), fleet.MaxValueBytes)
		}
		key := own + "/" + metadata.NewID()
		ver, err := s.store.Put(ctx, spacePending, key, v, 0, 0)
		if err != nil {
			return keys, fmt.Errorf("notify: writing the shared outbox: %w", err)
		}
		s.mu.Lock()
		s.held[key] = ver
		s.mu.Unlock()
		keys = append(keys, key)
	}
	return keys, nil
}

// holds reports whether this process holds key, and the version it knows
// of; errNotNow when its lease on the key's shard has less than half its
// TTL left (renewals are failing).
func (s *sharedOutbox) holds(key string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.shards[shardOf(key)]
	ver, ok := s.held[key]
	switch {
	case h == nil || !ok:
		return 0, errLost
	case time.Until(h.validUntil) < s.ttl/2:
		return 0, fmt.Errorf("%w: the lease on shard %s is not renewed", errNotNow, shardOf(key))
	}
	return ver, nil
}

func (s *sharedOutbox) setVersion(key string, ver int64) {
	s.mu.Lock()
	if _, ok := s.held[key]; ok {
		s.held[key] = ver
	}
	s.mu.Unlock()
}

func (s *sharedOutbox) forget(key string) {
	s.mu.Lock()
	delete(s.held, key)
	s.mu.Unlock()
}

// body implements outbox. Reading the item also learns its version: only
// the shard's holder writes it, so a newer version is this process's own
// write whose answer was lost.
func (s *sharedOutbox) body(ctx context.Context, key string) ([]byte, error) {
	if _, err := s.holds(key); err != nil {
		return nil, err
	}
	it, err := s.store.Get(ctx, spacePending, key)
	if errors.Is(err, fleet.ErrNotFound) {
		s.forget(key)
		return nil, errLost
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading the shared outbox: %v", errNotNow, err)
	}
	var d delivery
	if err := json.Unmarshal(it.Value, &d); err != nil {
		return nil, fmt.Errorf("notify: shared outbox entry %s: %w", key, err)
	}
	s.setVersion(key, it.Version)
	return d.Body, nil
}

// maxRewrites bounds the compare-and-swap retries of one write.
const maxRewrites = 3

// update implements outbox.
func (s *sharedOutbox) update(ctx context.Context, key string, d delivery) error {
	v, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("notify: encoding delivery: %w", err)
	}
	for range maxRewrites {
		ver, err := s.holds(key)
		if err != nil {
			return err
		}
		nv, err := s.store.Put(ctx, spacePending, key, v, ver, 0)
		if err == nil {
			s.setVersion(key, nv)
			return nil
		}
		if !errors.Is(err, fleet.ErrConflict) {
			return fmt.Errorf("notify: rewriting shared outbox entry %s: %w", key, err)
		}
		if err := s.refresh(ctx, key); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: %s keeps changing", errLost, key)
}

// refresh learns the current version of key after a conflict: errLost
// when it is gone.
func (s *sharedOutbox) refresh(ctx context.Context, key string) error {
	it, err := s.store.Get(ctx, spacePending, key)
	if errors.Is(err, fleet.ErrNotFound) {
		s.forget(key)
		return errLost
	}
	if err != nil {
		return fmt.Errorf("notify: reading shared outbox entry %s: %w", key, err)
	}
	s.setVersion(key, it.Version)
	return nil
}

// remove implements outbox.
func (s *sharedOutbox) remove(ctx context.Context, key string) error {
	for range maxRewrites {
		s.mu.Lock()
		ver, ok := s.held[key]
		s.mu.Unlock()
		if !ok {
			return nil
		}
		err := s.store.Delete(ctx, spacePending, key, ver)
		if err == nil {
			s.forget(key)
			return nil
		}
		if !errors.Is(err, fleet.ErrConflict) {
			return fmt.Errorf("notify: removing shared outbox entry %s: %w", key, err)
		}
		if err := s.refresh(ctx, key); err != nil {
			return nil // gone already
		}
	}
	return fmt.Errorf("notify: removing shared outbox entry %s: it keeps changing", key)
}

// bury implements outbox: the dead letter is written first, so that a
// failure in between leaves the delivery pending, to be buried again
// (the dead letter's key is the delivery's, so it is written once).
func (s *sharedOutbox) bury(ctx context.Context, key string, d delivery) error {
	v, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("notify: encoding dead letter: %w", err)
	}
	if _, err := s.store.Put(ctx, spaceDead, seqOf(key), v, 0, sharedDeadTTL); err != nil && !errors.Is(err, fleet.ErrConflict) {
		return fmt.Errorf("notify: writing dead letter %s: %w", key, err)
	}
	return s.remove(ctx, key)
}

// deadLetters implements outbox; cursors are the dead letters' keys.
func (s *sharedOutbox) deadLetters(ctx context.Context, after string, limit int) ([]DeadLetter, error) {
	items, err := s.store.List(ctx, spaceDead, after, limit)
	if err != nil {
		return nil, fmt.Errorf("notify: listing dead letters: %w", err)
	}
	out := make([]DeadLetter, 0, len(items))
	for _, it := range items {
		var d delivery
		if err := json.Unmarshal(it.Value, &d); err != nil {
			return nil, fmt.Errorf("notify: dead letter %s: %w", it.Key, err)
		}
		out = append(out, d.deadLetter(it.Key))
	}
	return out, nil
}

// counts implements outbox: pending is what this process holds (summed
// over replicas, the backlog); dead is the last count of the tending loop,
// at most fleet.MaxListLimit.
func (s *sharedOutbox) counts(context.Context) (pending, dead int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held), s.dead, nil
}

// close implements outbox: it stops the loop and releases the leases, so
// that other replicas take the shards over without waiting for their end;
// this process's own shard, when empty, is deleted.
func (s *sharedOutbox) close() error {
	s.cancel()
	s.done.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for id, h := range s.shards {
		if id == s.own {
			if err := s.deleteIfEmpty(ctx, id); err != nil {
				errs = append(errs, err)
			}
		}
		if err := h.lease.Release(ctx); err != nil {
			errs = append(errs, fmt.Errorf("notify: releasing webhook shard %s: %w", id, err))
		}
	}
	s.shards, s.held, s.own = map[string]*heldShard{}, map[string]int64{}, ""
	return errors.Join(errs...)
}

var _ outbox = (*sharedOutbox)(nil)
