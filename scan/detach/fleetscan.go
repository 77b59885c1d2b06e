package detach

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/scan"
)

// Bounds of the wait between two reads of another replica's claim; each
// wait doubles.
const (
	followMin = 50 * time.Millisecond
	followMax = 2 * time.Second
)

// scanShared returns t's report through the fleet store: the report a
// replica published with the DB this scanner has now, or else a scan of
// this replica's under its claim, published when done. While another
// replica's claim lives it waits for that replica's report instead of
// scanning. ctx (bounded by Timeout) bounds it all.
func (s *Scanner) scanShared(ctx context.Context, t scan.Target) (*scan.Report, error) {
	sh := &s.opts.Shared
	wait := followMin
	for {
		it, rec, err := sh.read(ctx, t.Digest)
		if err != nil {
			return s.scanAlone(ctx, t, err)
		}
		switch {
		case rec != nil && rec.State == stateRunning:
			if err := sleep(ctx, wait); err != nil {
				return nil, fmt.Errorf("waiting for %s's scan of %s: %w", rec.Owner, t.Digest, err)
			}
			wait = min(2*wait, followMax)
			continue
		case rec != nil && rec.State == stateDone && s.current(ctx, rec.DBVersion, rec.DBUpdatedAt):
			r, err := sh.load(ctx, rec)
			if err == nil {
				return r, nil
			}
			sh.logger().Warn("shared scan report unusable; scanning again", "digest", t.Digest.String(), "error", err.Error())
		}
		v, err := sh.claim(ctx, t.Digest, it.Version, s.opts.Timeout+claimGrace)
		if errors.Is(err, fleet.ErrConflict) {
			continue // another replica claimed or published first: read what it wrote
		}
		if err != nil {
			return s.scanAlone(ctx, t, err)
		}
		r, err := s.inner.Scan(ctx, t)
		if err != nil {
			sh.release(ctx, t.Digest, v)
			return nil, err
		}
		sh.publish(ctx, t.Digest, v, r, s.opts.TTL)
		return r, nil
	}
}

// scanAlone scans t in this replica only, the fleet store having failed
// with err: an outage of the store costs duplicate scans, not pushes.
func (s *Scanner) scanAlone(ctx context.Context, t scan.Target, err error) (*scan.Report, error) {
	if ctx.Err() != nil {
		return nil, fmt.Errorf("scan %s: %w", t.Digest, err)
	}
	s.opts.Shared.logger().Warn("fleet store unreachable; scanning without sharing", "digest", t.Digest.String(), "error", err.Error())
	return s.inner.Scan(ctx, t)
}

// sleep waits d or until ctx ends, returning ctx's error then.
func sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
