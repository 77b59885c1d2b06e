package recorder

import (
	"context"
	"errors"
	"time"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/metadata"
)

// replayBatch bounds the ops read from the outbox at once.
const replayBatch = 100

// The lease that lets one replica replay a shared outbox at a time.
const (
	replaySpace = "singletons"
	replayKey   = "metadata-outbox"
	replayLease = 30 * time.Second
)

// replay applies the outbox's ops in order, oldest first, until Close. A
// failing op is retried with exponential backoff and blocks those behind
// it, so a Finish is never applied before its Put. With a shared outbox it
// also looks every Poll for ops other replicas queued (or left behind when
// they died).
func (r *Recorder) replay() {
	backoff := r.opts.MinBackoff
	var retry <-chan time.Time // nil while the outbox is drained
	var poll <-chan time.Time
	if r.opts.Storage != nil {
		t := time.NewTicker(r.opts.Poll)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case <-r.stop:
			return
		case <-r.wake:
		case <-retry:
		case <-poll:
		}
		retry = nil
		if r.drain() {
			backoff = r.opts.MinBackoff
			continue
		}
		backoff = min(backoff*2, r.opts.MaxBackoff)
		retry = time.After(backoff)
	}
}

// drain applies ops until the outbox is empty, Close is called or an op
// must be retried (false). With a fleet store it holds the replay lease
// meanwhile; when another replica holds it, that replica drains.
func (r *Recorder) drain() bool {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-r.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var lease *fleet.Lease
	var renewAt time.Time
	if r.opts.Storage != nil && r.opts.Fleet != nil {
		l, err := fleet.Acquire(ctx, r.opts.Fleet, replaySpace, replayKey, r.opts.Owner, replayLease)
		if errors.Is(err, fleet.ErrHeld) {
			return true
		}
		if err != nil {
			r.opts.Logger.Warn("metadata outbox: the replay lease cannot be taken; will retry", "error", err.Error())
			return false
		}
		lease, renewAt = l, time.Now().Add(replayLease/3)
		defer func() {
			rctx, rcancel := context.WithTimeout(context.Background(), r.opts.Timeout)
			_ = lease.Release(rctx)
			rcancel()
		}()
	}
	for {
		ops, err := r.box.oldest(ctx, replayBatch)
		if err != nil {
			if ctx.Err() == nil {
				r.opts.Logger.Error("metadata outbox unreadable", "error", err.Error())
			}
			return false
		}
		if len(ops) == 0 {
			return true
		}
		for _, q := range ops {
			if ctx.Err() != nil {
				return true
			}
			if lease != nil && time.Now().After(renewAt) {
				if err := lease.Renew(ctx); err != nil {
					r.opts.Logger.Warn("metadata outbox: the replay lease was lost", "error", err.Error())
					return false
				}
				renewAt = time.Now().Add(replayLease / 3)
			}
			if !r.applyOne(ctx, q) {
				return false
			}
		}
	}
}

// applyOne applies q and removes it from the outbox; false when it must
// be retried later.
func (r *Recorder) applyOne(ctx context.Context, q queued) bool {
	actx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	err := q.op.apply(actx, r.store)
	if errors.Is(err, metadata.ErrConflict) && r.finishedSince(actx, q.op) {
		err = nil
	}
	cancel()
	if err != nil && !final(err) {
		if ctx.Err() == nil {
			r.opts.Logger.Warn("metadata outbox replay failed; will retry", "error", err.Error())
		}
		return false
	}
	if err != nil {
		r.opts.Logger.Error("metadata outbox op cannot be applied; dropping it", "error", err.Error())
	}
	if err := r.box.remove(ctx, q.key); err != nil {
		r.opts.Logger.Error("metadata outbox: removing an applied op", "error", err.Error())
		return false
	}
	return true
}

// finishedSince reports whether o, the Put of a pending record, conflicts
// only because the record was finished since: another replica's replay
// (or the caller, once the store was back) applied it and its Finish.
func (r *Recorder) finishedSince(ctx context.Context, o op) bool {
	if o.Put == nil || o.Put.Status != metadata.StatusPending {
		return false
	}
	got, err := r.store.Get(ctx, o.Put.ID)
	return err == nil && got.Status != metadata.StatusPending && got.Repository == o.Put.Repository &&
		got.Digest == o.Put.Digest && got.Kind == o.Put.Kind
}

// final reports whether retrying err is pointless: the record conflicts,
// is invalid, or (for a Finish, whose Put came earlier) does not exist.
func final(err error) bool {
	return errors.Is(err, metadata.ErrConflict) || errors.Is(err, metadata.ErrInvalid) ||
		errors.Is(err, metadata.ErrNotFound)
}
