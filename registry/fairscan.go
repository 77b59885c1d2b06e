package registry

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

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
type fairScanner struct {
	scan.Scanner
	max int

	mu      sync.Mutex
	lines   map[string]*identityLine
	waiting atomic.Int64 // scans waiting in a line (tests)
}

// identityLine is one identity's slots and its users (waiting or holding).
type identityLine struct {
	slots chan struct{}
	users int
}

// newFairScanner wraps s; max < 1 leaves s as it is.
func newFairScanner(s scan.Scanner, max int) scan.Scanner {
	if s == nil || max < 1 {
		return s
	}
	return &fairScanner{Scanner: s, max: max, lines: map[string]*identityLine{}}
}

// Scan implements scan.Scanner: it waits for a slot in the caller's line,
// then scans.
func (f *fairScanner) Scan(ctx context.Context, t scan.Target) (*scan.Report, error) {
	who := ""
	if info := reqctx.From(ctx); info != nil {
		who = info.User()
	}
	line := f.join(who)
	defer f.leave(who, line)
	select {
	case line.slots <- struct{}{}:
	default:
		f.waiting.Add(1)
		select {
		case line.slots <- struct{}{}:
			f.waiting.Add(-1)
		case <-ctx.Done():
			f.waiting.Add(-1)
			return nil, fmt.Errorf("scan %s@%s: %w: %d scans of %q already waiting or running (scan.maxperidentity): %w",
				t.Repository, t.Digest, scan.ErrBusy, f.max, who, ctx.Err())
		}
	}
	defer func() { <-line.slots }()
	return f.Scanner.Scan(ctx, t)
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
