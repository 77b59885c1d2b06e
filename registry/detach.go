package registry

import (
	"context"
	"fmt"
	"log/slog"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/scan/detach"
)

// detachedScanner wraps s in scan/detach when scan.pool.detachafter is
// set, so that scans outlive the pushes that wait too long for them; it
// returns s unchanged (and a nil *detach.Scanner) otherwise. Replicas
// (shared non-nil) share their scans and reports through the fleet store,
// and driver for the reports too big for an item; a single node keeps
// them in its memory.
func detachedScanner(s scan.Scanner, c config.Scan, shared fleet.Store, driver storagedriver.StorageDriver,
	replica string, logger *slog.Logger) (scan.Scanner, *detach.Scanner, error) {
	if s == nil || c.Pool.DetachAfter == 0 {
		return s, nil, nil
	}
	opts := detach.Options{After: c.Pool.DetachAfter, Timeout: c.Timeout}
	if shared != nil {
		opts.Shared = detach.Shared{Fleet: shared, Storage: driver, Owner: replica, Logger: logger.With("component", "scan-share")}
	}
	d, err := detach.New(s, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("registry: scan.pool.detachafter: %w", err)
	}
	return d, d, nil
}

// drainScans waits for the detached scans still running (they publish
// their reports for the other replicas) before the caller closes the
// scanner, or until ctx ends.
func (s *Server) drainScans(ctx context.Context) error {
	if s.detached == nil {
		return nil
	}
	if err := s.detached.Drain(ctx); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}
