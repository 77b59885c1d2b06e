package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/metadata"
)

// The shared outbox's tending loop: renew the leases held, take over the
// shards of replicas whose lease ended, delete the shards emptied.

// tidyPage bounds the deliveries a tending round reads of a taken-over
// shard to see whether it is empty (and adopt stragglers).
const tidyPage = 100

// openOwnShard creates a shard for this process's new deliveries: the
// lease first, then the marker that lets others find it, so that a shard
// is never visible without an owner.
func (s *sharedOutbox) openOwnShard(ctx context.Context) error {
	id := metadata.NewID()
	t0 := time.Now()
	l, err := fleet.Acquire(ctx, s.store, spaceLeases, id, s.owner, s.ttl)
	if err != nil {
		return fmt.Errorf("notify: shared outbox: taking the lease of a new shard: %w", err)
	}
	if err := s.mark(ctx, id); err != nil {
		_ = l.Release(ctx)
		return err
	}
	s.mu.Lock()
	s.own = id
	s.shards[id] = &heldShard{lease: l, validUntil: t0.Add(s.ttl)}
	s.mu.Unlock()
	return nil
}

// mark records that shard id may hold deliveries (idempotent).
func (s *sharedOutbox) mark(ctx context.Context, id string) error {
	_, err := s.store.Put(ctx, spaceShards, id, []byte(s.owner), 0, 0)
	if err != nil && !errors.Is(err, fleet.ErrConflict) {
		return fmt.Errorf("notify: shared outbox: recording shard %s: %w", id, err)
	}
	return nil
}

// loop tends the shards every ttl/3 until close.
func (s *sharedOutbox) loop() {
	tick := time.NewTicker(s.ttl / 3)
	defer tick.Stop()
	for {
		s.tend()
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// tend is one round; each step logs its own failures and the next round
// tries again.
func (s *sharedOutbox) tend() {
	ctx, cancel := context.WithTimeout(s.ctx, s.ttl/3)
	defer cancel()
	s.renew(ctx)
	s.mu.Lock()
	own := s.own
	s.mu.Unlock()
	if own == "" {
		if err := s.openOwnShard(ctx); err != nil {
			s.logger.Error("webhook outbox: no shard for new events", "error", err.Error())
		}
	}
	s.takeOver(ctx)
	s.tidy(ctx)
	s.countDead(ctx)
}

// heldShards returns the shards held.
func (s *sharedOutbox) heldShards() map[string]*heldShard {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]*heldShard, len(s.shards))
	for id, h := range s.shards {
		out[id] = h
	}
	return out
}

// renew extends every lease held. A lease that lapsed is taken back when
// nobody else took it; otherwise its deliveries are dropped: the new
// holder sends them.
func (s *sharedOutbox) renew(ctx context.Context) {
	for id, h := range s.heldShards() {
		t0 := time.Now()
		err := h.lease.Renew(ctx)
		if errors.Is(err, fleet.ErrHeld) {
			var l *fleet.Lease
			if l, err = fleet.Acquire(ctx, s.store, spaceLeases, id, s.owner, s.ttl); err == nil {
				s.logger.Warn("webhook outbox: a shard's lease lapsed and was taken back", "shard", id)
				err = s.mark(ctx, id) // a replica may have found it empty and deleted it
				s.mu.Lock()
				h.lease = l
				s.mu.Unlock()
			}
		}
		switch {
		case err == nil:
			s.mu.Lock()
			h.validUntil = t0.Add(s.ttl)
			s.mu.Unlock()
		case errors.Is(err, fleet.ErrHeld):
			s.logger.Warn("webhook outbox: another replica took over a shard whose lease lapsed; it sends its deliveries",
				"shard", id)
			s.mu.Lock()
			own := s.own == id
			s.mu.Unlock()
			if own { // new events need a shard before the old one goes
				if err := s.openOwnShard(ctx); err != nil {
					s.logger.Error("webhook outbox: no shard for new events", "error", err.Error())
				}
			}
			s.drop(id)
		default:
			s.logger.Error("webhook outbox: renewing a shard's lease failed", "shard", id, "error", err.Error())
		}
	}
}

// drop gives up shard id: its deliveries leave the queue.
func (s *sharedOutbox) drop(id string) {
	match := inShard(id)
	s.mu.Lock()
	delete(s.shards, id)
	for k := range s.held {
		if match(k) {
			delete(s.held, k)
		}
	}
	if s.own == id {
		s.own = ""
	}
	s.mu.Unlock()
	s.c.lose(match)
}

// takeOver acquires the lease of every shard whose holder is gone and
// adopts its deliveries.
func (s *sharedOutbox) takeOver(ctx context.Context) {
	after := ""
	for {
		marks, err := s.store.List(ctx, spaceShards, after, fleet.MaxListLimit)
		if err != nil {
			s.logger.Error("webhook outbox: listing shards failed", "error", err.Error())
			return
		}
		for _, m := range marks {
			s.mu.Lock()
			_, mine := s.shards[m.Key]
			s.mu.Unlock()
			if mine {
				continue
			}
			t0 := time.Now()
			l, err := fleet.Acquire(ctx, s.store, spaceLeases, m.Key, s.owner, s.ttl)
			if errors.Is(err, fleet.ErrHeld) {
				continue
			}
			if err != nil {
				s.logger.Error("webhook outbox: taking over a shard failed", "shard", m.Key, "error", err.Error())
				return
			}
			s.adoptShard(ctx, m.Key, l, t0)
		}
		if len(marks) < fleet.MaxListLimit {
			return
		}
		after = marks[len(marks)-1].Key
	}
}

// adoptShard registers shard id, whose lease l was taken at t0, and loads
// its deliveries. When they cannot all be read it gives the shard up
// again, for a later round.
func (s *sharedOutbox) adoptShard(ctx context.Context, id string, l *fleet.Lease, t0 time.Time) {
	s.mu.Lock()
	s.shards[id] = &heldShard{lease: l, validUntil: t0.Add(s.ttl)}
	s.mu.Unlock()
	n := 0
	after := id + "/"
	for {
		page, err := s.adoptPage(ctx, id, after, fleet.MaxListLimit)
		n += page.adopted
		if err != nil {
			s.logger.Error("webhook outbox: reading a taken-over shard failed; giving it up for now", "shard", id,
				"error", err.Error())
			s.drop(id)
			_ = l.Release(ctx)
			return
		}
		if page.last == "" {
			break
		}
		after = page.last
	}
	if n > 0 {
		s.logger.Info("webhook outbox: took over the deliveries of a replica whose lease ended", "shard", id, "pending", n)
	}
}

// adopted is what adoptPage read: the deliveries it adopted and the last
// key of the page when it was full ("" when the shard has no more).
type adopted struct {
	adopted int
	last    string
}

// adoptPage reads up to limit deliveries of shard id after key after and
// adopts those not held yet.
func (s *sharedOutbox) adoptPage(ctx context.Context, id, after string, limit int) (adopted, error) {
	items, err := s.store.List(ctx, spacePending, after, limit)
	if err != nil {
		return adopted{}, err
	}
	match := inShard(id)
	var ps []*pending
	full := len(items) == limit
	for _, it := range items {
		if !match(it.Key) {
			full = false
			break
		}
		var d delivery
		if err := json.Unmarshal(it.Value, &d); err != nil {
			return adopted{}, fmt.Errorf("shared outbox entry %s: %w", it.Key, err)
		}
		s.mu.Lock()
		_, known := s.held[it.Key]
		if !known {
			s.held[it.Key] = it.Version
		}
		s.mu.Unlock()
		if !known {
			d.Body = nil
			ps = append(ps, &pending{key: it.Key, d: d})
		}
	}
	if len(ps) > 0 {
		s.c.adopt(ps)
	}
	out := adopted{adopted: len(ps)}
	if full {
		out.last = items[len(items)-1].Key
	}
	return out, nil
}

// tidy deletes the taken-over shards that are empty and adopts deliveries
// written into them after they were loaded (by a replica that lost its
// lease in the middle of a write).
func (s *sharedOutbox) tidy(ctx context.Context) {
	s.mu.Lock()
	own := s.own
	s.mu.Unlock()
	for id, h := range s.heldShards() {
		if id == own {
			continue
		}
		if _, err := s.adoptPage(ctx, id, id+"/", tidyPage); err != nil {
			s.logger.Error("webhook outbox: reading a taken-over shard failed", "shard", id, "error", err.Error())
			continue
		}
		s.mu.Lock()
		empty := true
		for k := range s.held {
			if inShard(id)(k) {
				empty = false
				break
			}
		}
		s.mu.Unlock()
		if !empty {
			continue
		}
		if err := s.deleteIfEmpty(ctx, id); err != nil {
			s.logger.Error("webhook outbox: deleting an emptied shard failed", "shard", id, "error", err.Error())
			continue
		}
		if err := h.lease.Release(ctx); err != nil {
			s.logger.Warn("webhook outbox: releasing an emptied shard failed", "shard", id, "error", err.Error())
		}
		s.mu.Lock()
		delete(s.shards, id)
		s.mu.Unlock()
	}
}

// deleteIfEmpty deletes the marker of shard id when no delivery is left in it.
func (s *sharedOutbox) deleteIfEmpty(ctx context.Context, id string) error {
	items, err := s.store.List(ctx, spacePending, id+"/", 1)
	if err != nil {
		return fmt.Errorf("notify: reading webhook shard %s: %w", id, err)
	}
	if len(items) > 0 && inShard(id)(items[0].Key) {
		return nil
	}
	m, err := s.store.Get(ctx, spaceShards, id)
	if errors.Is(err, fleet.ErrNotFound) {
		return nil
	}
	if err == nil {
		err = s.store.Delete(ctx, spaceShards, id, m.Version)
	}
	if err != nil {
		return fmt.Errorf("notify: deleting webhook shard %s: %w", id, err)
	}
	return nil
}

// countDead refreshes the dead-letter count (at most one listing page)
// every two TTLs.
func (s *sharedOutbox) countDead(ctx context.Context) {
	s.mu.Lock()
	due := time.Since(s.deadAt) >= 2*s.ttl
	s.mu.Unlock()
	if !due {
		return
	}
	items, err := s.store.List(ctx, spaceDead, "", fleet.MaxListLimit)
	if err != nil {
		s.logger.Warn("webhook outbox: counting dead letters failed", "error", err.Error())
		return
	}
	s.mu.Lock()
	s.dead, s.deadAt = len(items), time.Now()
	s.mu.Unlock()
}
