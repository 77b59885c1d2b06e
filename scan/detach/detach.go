// Package detach lets a scan outlive the request that asked for it, so
// that a large image's scan never runs into a load balancer's timeout.
//
// Scanner wraps a scan.Scanner. A scan still running After its start is
// left to finish in the background, and the caller gets an error wrapping
// scan.ErrInProgress at once (the gate answers the push 429 "scan … still
// running; retry the push"). The finished report is kept per manifest
// digest for TTL; the retried push of the same manifest (to any
// repository: a report depends on the image only) gets it without a new
// scan, as long as the scanner still has the DB the report was made with.
// Concurrent scans of one manifest share one scan. Failed scans are not
// kept: the next request scans again.
//
// With Options.Shared, the replicas behind a load balancer share both
// (fleetscan.go): a replica claims a manifest in the fleet store before
// scanning it, the others wait for the claim instead of scanning too, and
// the finished report is published there (or, when too big for an item,
// in the storage driver) for TTL, so that a push retried on any replica is
// decided at once — under the same DB condition. When the fleet store
// cannot be reached, a replica scans on its own.
package detach

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/scan"
)

// Defaults of Options.
const (
	DefaultTTL        = 10 * time.Minute
	DefaultMaxEntries = 1000
)

// Options configure a Scanner.
type Options struct {
	// After is how long Scan waits for a scan before answering
	// scan.ErrInProgress; keep it well below the load balancer's timeout.
	After time.Duration
	// Timeout bounds a background scan (the gate's scan.timeout).
	Timeout time.Duration
	// TTL is how long a finished report is kept for a retried push.
	TTL time.Duration
	// MaxEntries bounds the reports kept in this process; beyond it the
	// oldest go first.
	MaxEntries int
	// Shared shares scans and reports with the other replicas; the zero
	// Shared keeps them in this process.
	Shared Shared
}

// Scanner is a scan.Scanner whose scans outlive their callers (see the
// package documentation). It is safe for concurrent use.
type Scanner struct {
	inner scan.Scanner
	opts  Options

	mu      sync.Mutex
	entries map[digest.Digest]*entry
	bg      sync.WaitGroup
}

// entry is one manifest's scan, running or finished.
type entry struct {
	done     chan struct{} // closed when the scan finished
	report   *scan.Report
	err      error
	finished time.Time
}

var (
	_ scan.Scanner = (*Scanner)(nil)
	_ scan.Wrapper = (*Scanner)(nil)
)

// Unwrap returns the scanner s wraps: its workers and queue are the ones
// s's scans wait for (scan.QueueOf, so scan.Metered exports them).
func (s *Scanner) Unwrap() scan.Scanner { return s.inner }

// New wraps inner. After and Timeout must be positive.
func New(inner scan.Scanner, opts Options) (*Scanner, error) {
	if opts.TTL == 0 {
		opts.TTL = DefaultTTL
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.After <= 0 || opts.Timeout <= 0 || opts.TTL < 0 || opts.MaxEntries < 1 {
		return nil, fmt.Errorf("scan/detach: After %s and Timeout %s must be positive, TTL %s and MaxEntries %d not negative",
			opts.After, opts.Timeout, opts.TTL, opts.MaxEntries)
	}
	return &Scanner{inner: inner, opts: opts, entries: map[digest.Digest]*entry{}}, nil
}

// Scan implements scan.Scanner: it returns the kept report of t's
// manifest, or joins or starts its scan and waits for it at most After
// (and until ctx ends); then it returns an error wrapping
// scan.ErrInProgress while the scan goes on, bounded by Timeout.
func (s *Scanner) Scan(ctx context.Context, t scan.Target) (*scan.Report, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	name := t.Repository + "@" + t.Digest.String()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scan %s: %w", name, err)
	}
	e := s.entry(ctx, t)
	timer := time.NewTimer(s.opts.After)
	defer timer.Stop()
	select {
	case <-e.done:
		return e.report, e.err
	case <-timer.C:
		return nil, fmt.Errorf("scan of %s still running after %s; retry the push: %w", name, s.opts.After, scan.ErrInProgress)
	case <-ctx.Done():
		return nil, fmt.Errorf("scan %s: %w", name, ctx.Err())
	}
}

// entry returns t's usable entry: a kept report made with the scanner's
// current DB, a running scan, or a scan started now.
func (s *Scanner) entry(ctx context.Context, t scan.Target) *entry {
	s.mu.Lock()
	e, ok := s.entries[t.Digest]
	s.mu.Unlock()
	if ok && s.usable(ctx, e) {
		return e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.entries[t.Digest]; ok && cur != e { // another caller started one meanwhile
		return cur
	}
	e = &entry{done: make(chan struct{})}
	s.entries[t.Digest] = e
	s.evict()
	s.bg.Add(1)
	go s.run(context.WithoutCancel(ctx), t, e)
	return e
}

// usable reports whether e may answer: running, or finished well with the
// DB the scanner has now, within TTL.
func (s *Scanner) usable(ctx context.Context, e *entry) bool {
	select {
	case <-e.done:
	default:
		return true
	}
	if e.err != nil || time.Since(e.finished) > s.opts.TTL {
		return false
	}
	return s.current(ctx, e.report.DBVersion, e.report.DBUpdatedAt)
}

// current reports whether the scanner has, now, the DB of version and
// updatedAt: the condition for reusing a report made with it.
func (s *Scanner) current(ctx context.Context, version string, updatedAt time.Time) bool {
	st := s.inner.Status(ctx)
	return st.Ready && st.DBVersion == version && st.DBUpdatedAt.Equal(updatedAt)
}

// run scans t into e (or gets its report from another replica), bounded
// by Timeout; a failure is not kept.
func (s *Scanner) run(ctx context.Context, t scan.Target, e *entry) {
	defer s.bg.Done()
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	var r *scan.Report
	var err error
	if s.opts.Shared.Fleet != nil {
		r, err = s.scanShared(ctx, t)
	} else {
		r, err = s.inner.Scan(ctx, t)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e.report, e.err, e.finished = r, err, time.Now()
	if err != nil && s.entries[t.Digest] == e {
		delete(s.entries, t.Digest)
	}
	close(e.done)
}

// evict drops expired reports, then the oldest finished ones while over
// MaxEntries. Running scans stay. s.mu is held.
func (s *Scanner) evict() {
	for d, e := range s.entries {
		select {
		case <-e.done:
			if time.Since(e.finished) > s.opts.TTL {
				delete(s.entries, d)
			}
		default:
		}
	}
	for len(s.entries) > s.opts.MaxEntries {
		var oldest digest.Digest
		var at time.Time
		for d, e := range s.entries {
			select {
			case <-e.done:
				if oldest == "" || e.finished.Before(at) {
					oldest, at = d, e.finished
				}
			default:
			}
		}
		if oldest == "" {
			return
		}
		delete(s.entries, oldest)
	}
}

// Status implements scan.Scanner.
func (s *Scanner) Status(ctx context.Context) scan.Status { return s.inner.Status(ctx) }

// Drain waits for the background scans to end (and publish), or for ctx
// to end; it returns ctx's error then. A server calls it at shutdown
// before closing the scanner it wrapped.
func (s *Scanner) Drain(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.bg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("scan/detach: waiting for background scans: %w", ctx.Err())
	}
}

// Close implements scan.Scanner: it waits for background scans, then
// closes the wrapped scanner.
func (s *Scanner) Close() error {
	s.bg.Wait()
	if err := s.inner.Close(); err != nil {
		return errors.Join(errors.New("scan/detach: close"), err)
	}
	return nil
}
