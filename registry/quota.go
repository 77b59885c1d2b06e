package registry

import (
	"context"
	"log/slog"
	"time"

	"github.com/distribution/distribution/v3"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/notify"
	"github.com/imagegate/imagegate/quota"
)

// reconcileQuotas is the periodic work that charges the stored manifests
// of ns not charged yet (quota.Reconcile), logging what it found.
func reconcileQuotas(q *quota.Quotas, ns distribution.Namespace, logger *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		start := time.Now()
		r, err := q.Reconcile(ctx, ns)
		logger.InfoContext(ctx, "quota reconciled", "repositories", r.Repositories, "manifests", r.Manifests,
			"adopted", r.Adopted, "duration_ms", time.Since(start).Milliseconds())
		return err
	}
}

// newQuotas builds the namespace quotas of lc (nil when none is
// configured), keeping usage in the fleet store shared by the replicas and
// serialised by their locks; a namespace passing lc.QuotaWarnPercent is
// published as a quota.warning event.
func newQuotas(lc config.Lifecycle, shared fleet.Store, locks quota.Locker, events *notify.Notifier, logger *slog.Logger) (*quota.Quotas, error) {
	if len(lc.Quotas) == 0 {
		return nil, nil
	}
	rules := make([]quota.Rule, 0, len(lc.Quotas))
	for _, q := range lc.Quotas {
		rules = append(rules, quota.Rule{Repositories: q.Repositories, Shared: q.Scope == "pattern", MaxBytes: q.MaxBytes,
			MaxRepositories: q.MaxRepositories})
	}
	return quota.New(quota.Options{Rules: rules, Store: shared, Locks: locks, WarnPercent: lc.QuotaWarnPercent, Logger: logger,
		Warn: func(ctx context.Context, w quota.Warning) {
			events.QuotaWarning(ctx, notify.QuotaAlert{Repository: w.Repository, At: time.Now().UTC(),
				Quota: notify.Quota{Namespace: w.Budget, Used: w.Used, Limit: w.Limit, Percent: w.Percent, Threshold: w.ThresholdPct}})
		}})
}
