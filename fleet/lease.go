package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrHeld: another owner holds the lease.
var ErrHeld = errors.New("fleet: lease held by another owner")

// A Lease is the exclusive right of one owner to something named by its
// key, for a bounded time: a replica that dies loses it when the TTL ends.
// The holder renews it before then (Renew) and releases it when done.
type Lease struct {
	store      Store
	space, key string
	owner      string
	version    int64
	ttl        time.Duration
}

// Acquire takes the lease on key in space for owner, once: it returns an
// error wrapping ErrHeld when another owner holds it live. An owner
// acquiring a lease it already holds (a restarted process with the same
// owner name) takes it over.
func Acquire(ctx context.Context, s Store, space, key, owner string, ttl time.Duration) (*Lease, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("fleet: lease %s/%s: ttl must be positive", space, key)
	}
	var expect int64
	it, err := s.Get(ctx, space, key)
	switch {
	case err == nil && string(it.Value) != owner:
		return nil, fmt.Errorf("%w: %s/%s (until %s)", ErrHeld, space, key, it.Expires.Format(time.RFC3339))
	case err == nil:
		expect = it.Version
	case !errors.Is(err, ErrNotFound):
		return nil, err
	}
	v, err := s.Put(ctx, space, key, []byte(owner), expect, ttl)
	if errors.Is(err, ErrConflict) {
		return nil, fmt.Errorf("%w: %s/%s", ErrHeld, space, key)
	}
	if err != nil {
		return nil, err
	}
	return &Lease{store: s, space: space, key: key, owner: owner, version: v, ttl: ttl}, nil
}

// Renew extends the lease by its TTL from now. It returns an error
// wrapping ErrHeld when the lease was lost (it expired, whether or not
// another owner took it since, or was released): the holder must stop
// what the lease guarded.
func (l *Lease) Renew(ctx context.Context) error {
	v, err := l.store.Put(ctx, l.space, l.key, []byte(l.owner), l.version, l.ttl)
	if errors.Is(err, ErrConflict) {
		return fmt.Errorf("%w: %s/%s was lost", ErrHeld, l.space, l.key)
	}
	if err != nil {
		return err
	}
	l.version = v
	return nil
}

// Release gives the lease up; releasing a lease already lost is not an
// error.
func (l *Lease) Release(ctx context.Context) error {
	err := l.store.Delete(ctx, l.space, l.key, l.version)
	if errors.Is(err, ErrConflict) {
		return nil
	}
	return err
}

// Key is the leased key.
func (l *Lease) Key() string { return l.key }
