package registry

import (
	"cmp"
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
	"github.com/imagegate/imagegate/metadata/recorder"
	"github.com/imagegate/imagegate/middleware"
	"github.com/imagegate/imagegate/push"
	"github.com/imagegate/imagegate/scan/detach"
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
// collection over the fleet store, with the collector's metrics. The
// fleet store is the metadata database's, so its outage follows
// metadata.failmode: under open a push goes on with a not-indexed marker
// in storage (push/gcrefs.go), under closed it is refused.
//
// Every fleet call of the fence and of a push's references entry has its
// own deadline (gc.StoreCallTimeout; a blob's touch as a whole
// gc.BlobTouchTimeout), so a store that hangs is answered like one that
// refuses. A store in this process's memory cannot hang: it is used as is.
func newGCFence(cfg *config.Config, shared fleet.Store, driver storagedriver.StorageDriver, reg prometheus.Registerer, o options) (push.GC, error) {
	m, err := gc.NewMetrics(reg)
	if err != nil {
		return push.GC{}, err
	}
	store, parallel := shared, gc.TouchParallelism
	if _, local := shared.(*fleet.Memory); local {
		parallel = 1 // no round trip to overlap
	} else {
		store = fleet.WithCallTimeout(shared, cmp.Or(o.gcCallTimeout, gc.StoreCallTimeout))
	}
	fence := gc.NewFence(store, cfg.Lifecycle.GC.Grace, o.gcNow)
	fence.SetParallelism(parallel)
	return push.GC{Refs: gc.NewRefs(store), Fence: fence, BlobTouchTimeout: o.gcBlobTouchTimeout,
		Unindexed: gc.NewUnindexed(driver), FailOpen: recorder.Mode(cfg.Metadata.FailMode) == recorder.FailOpen, Metrics: m}, nil
}

// WithGCFenceTimeouts replaces gc.StoreCallTimeout (call) and
// gc.BlobTouchTimeout (blob) for this server (tests of a hanging store);
// 0 keeps a default.
func WithGCFenceTimeouts(call, blob time.Duration) Option {
	return func(o *options) { o.gcCallTimeout, o.gcBlobTouchTimeout = call, blob }
}

// newCollector is the collector of lc.GC, deleting manifests through
// guard.
func newCollector(lc config.Lifecycle, g push.GC, shared fleet.Store, ns distribution.Namespace, driver storagedriver.StorageDriver,
	guard *middleware.Guard, replica string, now func() time.Time, logger *slog.Logger) (*gc.Collector, error) {
	return gc.New(gc.Options{Store: shared, Namespace: ns, Driver: driver, Guard: guard.Wrap, Fence: g.Fence,
		Grace: lc.GC.Grace, Untagged: lc.GC.Untagged, UntaggedAge: lc.GC.UntaggedAge, MaxDeletions: lc.GC.MaxDeletions,
		ScanReportRoot: detach.ReportRoot, ScanReportTTL: detach.DefaultTTL,
		Replica: replica, Logger: logger, Metrics: g.Metrics, Now: now})
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
