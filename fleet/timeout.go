package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrTimeout: a store call did not answer within its own bound
// (WithCallTimeout). It wraps context.DeadlineExceeded as well; the
// caller's own context had not ended.
var ErrTimeout = errors.New("fleet: no answer in time")

// WithCallTimeout returns s with every call bounded by d (d <= 0: s
// unchanged): a store that hangs — a connection that neither answers nor
// breaks — then fails the call with an error wrapping ErrTimeout and
// context.DeadlineExceeded, like a store that refuses, instead of holding
// its caller until the caller's own context ends. It relies on s
// honouring ctx, as every Store must.
func WithCallTimeout(s Store, d time.Duration) Store {
	if d <= 0 {
		return s
	}
	return &bounded{Store: s, d: d}
}

// bounded is a Store whose calls each have their own deadline.
type bounded struct {
	Store
	d time.Duration
}

// call runs fn under a deadline of b.d; past it (the caller's context
// still live) its error names the bound.
func (b *bounded) call(ctx context.Context, what, space, key string, fn func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, b.d)
	defer cancel()
	err := fn(cctx)
	if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s %s/%s took longer than %s: %w", ErrTimeout, what, space, key, b.d, context.DeadlineExceeded)
	}
	return err
}

func (b *bounded) Get(ctx context.Context, space, key string) (it Item, err error) {
	err = b.call(ctx, "get", space, key, func(ctx context.Context) error {
		it, err = b.Store.Get(ctx, space, key)
		return err
	})
	return it, err
}

func (b *bounded) Put(ctx context.Context, space, key string, value []byte, expect int64, ttl time.Duration) (v int64, err error) {
	err = b.call(ctx, "put", space, key, func(ctx context.Context) error {
		v, err = b.Store.Put(ctx, space, key, value, expect, ttl)
		return err
	})
	return v, err
}

func (b *bounded) Delete(ctx context.Context, space, key string, expect int64) error {
	return b.call(ctx, "delete", space, key, func(ctx context.Context) error {
		return b.Store.Delete(ctx, space, key, expect)
	})
}

func (b *bounded) List(ctx context.Context, space, after string, limit int) (items []Item, err error) {
	err = b.call(ctx, "list", space, after, func(ctx context.Context) error {
		items, err = b.Store.List(ctx, space, after, limit)
		return err
	})
	return items, err
}

var _ Store = (*bounded)(nil)
