package registry

import (
	"log/slog"
	"time"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/lifecycle"
	"github.com/imagegate/imagegate/middleware"
	"github.com/imagegate/imagegate/pulls"
	"github.com/imagegate/imagegate/retention"
)

// WithRetentionClock makes retention plan at now() instead of the wall
// clock (tests with a generated history).
func WithRetentionClock(now func() time.Time) Option {
	return func(o *options) { o.retentionNow = now }
}

// newRetention is the API's retention service under rules: plans over ns
// and driver, deletions through guard.
func newRetention(lc config.Lifecycle, rules *lifecycle.Retention, ns distribution.Namespace, driver storagedriver.StorageDriver,
	guard *middleware.Guard, immutable *lifecycle.Immutability, now func() time.Time, pullRecords *pulls.Reader, logger *slog.Logger) *retention.Service {
	opts := retention.Options{Namespace: ns, Driver: driver, Guard: guard.Wrap, Rules: rules,
		Immutable: immutable, MaxDeletions: lc.RetentionMaxDeletions, Logger: logger, Now: now}
	if pullRecords != nil {
		opts.Pulls = pullRecords
	}
	return retention.New(opts)
}
