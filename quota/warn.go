package quota

import "context"

// warnIfCrossed reports a budget whose usage went from below the warning
// share to at or above it: a log line and Options.Warn.
func (q *Quotas) warnIfCrossed(ctx context.Context, b Budget, before, after int64, repo string) {
	threshold := b.Limit * int64(q.opts.WarnPercent) / 100
	if b.Limit == 0 || before >= threshold || after < threshold {
		return
	}
	pct := int(after * 100 / b.Limit)
	q.opts.Logger.WarnContext(ctx, "quota warning", "namespace", b.Name, "used", after, "limit", b.Limit,
		"percent", pct, "threshold_percent", q.opts.WarnPercent, "repository", repo)
	if q.opts.Warn != nil {
		q.opts.Warn(ctx, Warning{Budget: b.Name, Used: after, Limit: b.Limit, Percent: pct, ThresholdPct: q.opts.WarnPercent, Repository: repo})
	}
}
