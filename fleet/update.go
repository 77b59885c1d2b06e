package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// maxUpdateAttempts bounds Update's compare-and-swap loop.
const maxUpdateAttempts = 32

// Update applies change to the item under key atomically: it reads the
// live value (nil and false when absent), calls change, and writes the
// result only if nobody wrote in between, retrying otherwise. change may
// be called more than once and must not have side effects. It returns
// what was written. A change error ends the update and is returned as is.
func Update(ctx context.Context, s Store, space, key string, ttl time.Duration,
	change func(cur []byte, exists bool) ([]byte, error)) ([]byte, error) {
	for range maxUpdateAttempts {
		var cur []byte
		var version int64
		it, err := s.Get(ctx, space, key)
		switch {
		case err == nil:
			cur, version = it.Value, it.Version
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
		next, err := change(cur, err == nil)
		if err != nil {
			return nil, err
		}
		if _, err := s.Put(ctx, space, key, next, version, ttl); err == nil {
			return next, nil
		} else if !errors.Is(err, ErrConflict) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("fleet: updating %s/%s: %d conflicting writers in a row: %w", space, key, maxUpdateAttempts, ErrConflict)
}
