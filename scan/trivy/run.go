package trivy

import (
	"context"
	"fmt"
	"time"

	"github.com/imagegate/imagegate/internal/logs"
	"github.com/imagegate/imagegate/scan"
)

// result is what a scan goroutine hands back.
type result struct {
	report *scan.Report
	err    error
}

// Scan implements scan.Scanner. The whole call, waiting for one of
// MaxConcurrent workers included, is bounded by Timeout and by ctx; when
// either ends first Scan returns at once with an error wrapping ctx's
// error (and scan.ErrBusy if no worker was free), while the abandoned
// analysis stops at its next read and frees its worker then. Only layers
// not analysed before are opened through t.Open.
func (s *Scanner) Scan(ctx context.Context, t scan.Target) (*scan.Report, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, scan.ErrClosed
	}
	s.running.Add(1)
	s.mu.Unlock()

	name := t.Repository + "@" + t.Digest.String()
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	if err := ctx.Err(); err != nil { // over before it began: not a matter of busy workers
		s.running.Done()
		return nil, fmt.Errorf("scan %s: %w", name, err)
	}
	if err := s.acquire(ctx); err != nil {
		s.running.Done()
		if err == scan.ErrClosed {
			return nil, err
		}
		return nil, fmt.Errorf("scan %s: %w: %w", name, scan.ErrBusy, err)
	}

	done := make(chan result, 1)
	go func() {
		defer s.running.Done()
		defer func() { <-s.slots }()
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("scan %s: trivy panicked: %v", name, p)}
			}
		}()
		r, err := s.analyse(ctx, t, name)
		done <- result{r, err}
	}()
	select {
	case r := <-done:
		if r.err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("scan %s: %w (%v)", name, ctx.Err(), r.err)
		}
		return r.report, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("scan %s: %w", name, ctx.Err())
	}
}

// analyse runs Trivy on t while holding the DB read lock.
func (s *Scanner) analyse(ctx context.Context, t scan.Target, name string) (*scan.Report, error) {
	s.db.mu.RLock()
	defer s.db.mu.RUnlock()
	info, loaded := s.db.current()
	if !loaded {
		return nil, fmt.Errorf("scan %s: %w", name, scan.ErrNoDB)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scan %s: %w", name, err)
	}
	start := time.Now()
	img, err := newStoredImage(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", name, err)
	}
	tr, err := s.engine.run(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("scan %s: trivy: %w", name, err)
	}
	r := toReport(t, tr, info, time.Now().UTC())
	s.log.DebugContext(ctx, "image scanned", "repository", t.Repository, "digest", t.Digest,
		"vulnerabilities", len(r.Vulnerabilities), logs.Ms("duration_ms", time.Since(start)))
	return r, nil
}
