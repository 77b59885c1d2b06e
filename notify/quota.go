package notify

import (
	"context"
	"time"
)

// QuotaWarning: a namespace's stored bytes passed the warning share of
// its quota (lifecycle.quotawarnpercent, docs/lifecycle.md); one event per
// crossing, by the push that crossed it.
const QuotaWarning Type = TypePrefix + "quota.warning"

// Quota is what a quota.warning event adds to Data.
type Quota struct {
	// Namespace is the budget: a namespace, or a shared quota's pattern.
	Namespace string `json:"namespace"`
	Used      int64  `json:"used_bytes"`
	Limit     int64  `json:"limit_bytes"`
	Percent   int    `json:"percent"`
	Threshold int    `json:"threshold_percent"`
}

// QuotaAlert is one crossing, as the quota package reports it.
type QuotaAlert struct {
	Quota
	// Repository is where the push that crossed it went.
	Repository string
	At         time.Time
}

// QuotaWarning emits a quota.warning event. It never blocks on a receiver
// and is a no-op on a nil *Notifier.
func (n *Notifier) QuotaWarning(ctx context.Context, a QuotaAlert) {
	if n == nil || n.box == nil {
		return
	}
	q := a.Quota
	n.emit(ctx, QuotaWarning, "namespace/"+q.Namespace, a.At, Data{Repository: a.Repository, Quota: &q})
}
