package validate

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/internal/reqctx"
)

// DefaultConfigBudget is the image config bytes a Validator holds at
// once when Options.ConfigBudget is zero: eight configs of the largest
// size accepted (maxConfigBytes), or thousands of ordinary ones (a few
// KiB each).
const DefaultConfigBudget = 8 * maxConfigBytes

// maxConfigWait bounds how long a manifest PUT waits for room in the
// config budget before it is asked to retry (429 TOOMANYREQUESTS).
const maxConfigWait = 30 * time.Second

// configBudget bounds the bytes of image configs held at once across a
// Validator's concurrent calls: each config is read only once its size
// fits, and is counted until its check ends or, when kept for a scanner,
// until its Result is released (after the scan, which may wait in its
// pusher's scan line first).
//
// It bounds each pusher too (the request's subject, reqctx): one
// identity holds at most a quarter of the budget (never less than one
// config of the largest size), so a pusher keeping large configs in its
// scan line cannot fill the budget and stall everyone else's push;
// anonymous requests share the whole budget. Room is not handed out in
// arrival order: a config that fits goes ahead of a larger one waiting,
// so an ordinary config of a few KiB never queues behind 8 MiB ones —
// which is why this is not golang.org/x/sync/semaphore: its Weighted
// serves waiters strictly in arrival order, and has no shares.
type configBudget struct {
	wait time.Duration

	mu      sync.Mutex
	free    int64            // bytes left in all
	perUser int64            // bytes one identity may hold
	held    map[string]int64 // bytes each identity holds
	freed   chan struct{}    // closed, and replaced, when bytes are given back

	waiting atomic.Int64 // checks waiting for room (tests)
}

func newConfigBudget(bytes int64) (*configBudget, error) {
	if bytes == 0 {
		bytes = DefaultConfigBudget
	}
	if bytes < maxConfigBytes {
		return nil, fmt.Errorf("validate: the config budget of %d bytes is less than one config of the largest size accepted (%d)", bytes, maxConfigBytes)
	}
	return &configBudget{wait: maxConfigWait, free: bytes, perUser: max(bytes/4, maxConfigBytes),
		held: map[string]int64{}, freed: make(chan struct{})}, nil
}

// hold waits, at most b.wait and while ctx lasts, until n more bytes fit
// in the budget and in the caller's share of it, and returns the function
// that gives them back (once, however often it is called). A wait that
// ends on b.wait is a 429 TOOMANYREQUESTS refusal (the client retries)
// saying whether the pusher's own share or the whole budget was full;
// one that ends with ctx is ctx's error.
func (b *configBudget) hold(ctx context.Context, n int64) (func(), error) {
	who := ""
	if info := reqctx.From(ctx); info != nil {
		who = info.User()
	}
	wctx, cancel := context.WithTimeout(ctx, b.wait)
	defer cancel()
	for {
		b.mu.Lock()
		ownFull := who != "" && b.held[who]+n > b.perUser
		if !ownFull && b.free >= n {
			b.free -= n
			b.held[who] += n
			b.mu.Unlock()
			return sync.OnceFunc(func() { b.give(who, n) }), nil
		}
		freed, mine := b.freed, b.held[who]
		b.mu.Unlock()
		if err := b.await(ctx, wctx, freed); err != nil {
			return nil, err
		}
		if wctx.Err() == nil {
			continue
		}
		if ownFull {
			return nil, errcode.ErrorCodeTooManyRequests.WithMessage(fmt.Sprintf(
				"your pushes hold %d bytes of image configs being checked or scanned, and one pusher may hold at most %d at once; "+
					"this config (%d bytes) waited %s: push again when your other pushes are answered", mine, b.perUser, n, b.wait)).
				WithDetail(map[string]any{"config_bytes": n, "held": mine, "max": b.perUser})
		}
		return nil, errcode.ErrorCodeTooManyRequests.WithMessage(fmt.Sprintf(
			"the registry is checking too many large image configs at once; this one (%d bytes) waited %s: push again shortly", n, b.wait)).
			WithDetail(map[string]any{"config_bytes": n})
	}
}

// await waits until bytes are given back (freed closes) or wctx ends; it
// returns ctx's error when the request itself ended, and nil otherwise
// (the caller looks at wctx to tell a give-back from the end of its wait).
func (b *configBudget) await(ctx, wctx context.Context, freed <-chan struct{}) error {
	b.waiting.Add(1)
	defer b.waiting.Add(-1)
	select {
	case <-freed:
		return nil
	case <-wctx.Done():
		if ctx.Err() != nil {
			return fmt.Errorf("validate: waiting to read the image config: %w", ctx.Err())
		}
		return nil
	}
}

// give gives n bytes held by who back and wakes every waiting check.
func (b *configBudget) give(who string, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free += n
	if b.held[who] -= n; b.held[who] <= 0 {
		delete(b.held, who)
	}
	close(b.freed)
	b.freed = make(chan struct{})
}
