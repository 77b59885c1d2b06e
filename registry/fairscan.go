package registry

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imagegate/imagegate/internal/reqctx"
	"github.com/imagegate/imagegate/scan"
)

// fairScanner puts a line per identity in front of the scan queue: at
// most max scans of one identity (the request's subject; "" for work no
// request asked for) wait for or hold a worker at once; the identity's
// further scans wait in its own line. Without it the queue served scans
// first come, first served, whoever pushed them: one pusher sending many
// distinct images at once filled it, and everyone else's push waited
// behind all of them until scan.timeout, then got 429. Now another
// pusher's scan waits behind at most max scans of each busy identity. A
// scan whose context ends in its identity's line fails with scan.ErrBusy
// (the gate answers 429 "every scanner stayed busy", or applies the
// policy's onerror). The bound is per replica.
//
// It wraps the scanner that owns the workers, inside scan/detach: a scan
// that outlives its push (scan.pool.detachafter) keeps its place in the
// line until it ends, so max bounds a pusher's scans in flight, detached
// or not. A place is given back when the inner scan returns or when the
// call's context ends, whichever comes first; each call is bounded by
// limit (scan.timeout), so neither a panic, a cancelled context nor a
// scan that never returns keeps a place for ever.
type fairScanner struct {
	scan.Scanner
	max   int
	limit time.Duration

	mu      sync.Mutex
	lines   map[string]*identityLine
	waiting atomic.Int64 // scans waiting in a line (tests)
}

// identityLine is one identity's slots and its users (waiting or holding).
type identityLine struct {
	slots chan struct{}
	users int
}

// newFairScanner wraps s, each call bounded by limit; max < 1 leaves s as
// it is.
func newFairScanner(s scan.Scanner, max int, limit time.Duration) scan.Scanner {
	if s == nil || max < 1 {
		return s
	}
	return &fairScanner{Scanner: s, max: max, limit: limit, lines: map[string]*identityLine{}}
}

// Scan implements scan.Scanner: it waits for a slot in the caller's line,
// then scans, bounded by limit.
func (f *fairScanner) Scan(ctx context.Context, t scan.Target) (*scan.Report, error) {
	who := ""
	if info := reqctx.From(ctx); info != nil {
		who = info.User()
	}
	ctx, cancel := context.WithTimeout(ctx, f.limit)
	defer cancel()
	line := f.join(who)
	defer f.leave(who, line)
	if err := f.take(ctx, line); err != nil {
		return nil, fmt.Errorf("scan %s@%s: %w: %d scans of %q already waiting or running (scan.maxperidentity): %w",
			t.Repository, t.Digest, scan.ErrBusy, f.max, who, err)
	}
	release := sync.OnceFunc(func() { <-line.slots })
	stop := context.AfterFunc(ctx, release) // the deadline frees the place even if the scan never returns
	defer func() {
		stop()
		release()
	}()
	return f.Scanner.Scan(ctx, t)
}

// take waits for a slot in line until ctx ends (ctx's error).
func (f *fairScanner) take(ctx context.Context, line *identityLine) error {
	select {
	case line.slots <- struct{}{}:
		return nil
	default:
	}
	f.waiting.Add(1)
	defer f.waiting.Add(-1)
	select {
	case line.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// join returns who's line, counting the caller in it.
func (f *fairScanner) join(who string) *identityLine {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.lines[who]
	if l == nil {
		l = &identityLine{slots: make(chan struct{}, f.max)}
		f.lines[who] = l
	}
	l.users++
	return l
}

// leave counts the caller out of who's line, dropping it when empty.
func (f *fairScanner) leave(who string, l *identityLine) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l.users--; l.users == 0 {
		delete(f.lines, who)
	}
}

// Unwrap implements scan.Wrapper: the queue (and its metrics) is the
// inner scanner's.
func (f *fairScanner) Unwrap() scan.Scanner { return f.Scanner }
