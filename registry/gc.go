package registry

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/gc"
	"github.com/imagegate/imagegate/middleware"
	"github.com/imagegate/imagegate/push"
)

// WithGCClock makes garbage collection (its grace periods and the touches
// of pushes) read now() instead of the wall clock (tests).
func WithGCClock(now func() time.Time) Option {
	return func(o *options) { o.gcNow = now }
}

// WithGCHooks hands the server's collector and fence to fn once built, so
// tests can install their hooks and replay races.
func WithGCHooks(fn func(*gc.Collector, *gc.Fence)) Option {
	return func(o *options) { o.gcHooks = fn }
}

// newGCFence is the pipeline's and the guard's side of garbage
// collection over the fleet store.
func newGCFence(lc config.Lifecycle, shared fleet.Store, now func() time.Time) push.GC {
	return push.GC{Refs: gc.NewRefs(shared), Fence: gc.NewFence(shared, lc.GC.Grace, now)}
}

// newCollector is the collector of lc.GC, deleting manifests through
// guard.
func newCollector(lc config.Lifecycle, g push.GC, shared fleet.Store, ns distribution.Namespace, driver storagedriver.StorageDriver,
	guard *middleware.Guard, replica string, reg prometheus.Registerer, now func() time.Time, logger *slog.Logger) (*gc.Collector, error) {
	m, err := gc.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	return gc.New(gc.Options{Store: shared, Namespace: ns, Driver: driver, Guard: guard.Wrap, Fence: g.Fence,
		Grace: lc.GC.Grace, Untagged: lc.GC.Untagged, UntaggedAge: lc.GC.UntaggedAge, MaxDeletions: lc.GC.MaxDeletions,
		Replica: replica, Logger: logger, Metrics: m, Now: now})
}

// collectGarbage is the scheduled pass (lifecycle.gc.interval). An
// operator who scheduled passes asked for them: when the references index
// is not backfilled (first run, or a single node's in-memory fleet store
// after a restart) the pass backfills it first.
func collectGarbage(c *gc.Collector) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := c.Run(ctx)
		if errors.Is(err, gc.ErrNotBackfilled) {
			if _, err = c.Backfill(ctx); err == nil {
				_, err = c.Run(ctx)
			}
		}
		return err
	}
}
