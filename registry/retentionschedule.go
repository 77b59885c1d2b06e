package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/internal/logs"
	"github.com/imagegate/imagegate/internal/reqctx"
)

// retentionLease is the singleton lease (and done marker) of scheduled
// retention: one replica of the fleet applies it at a time, once per
// lifecycle.retentionschedule.
const retentionLease = "retention-apply"

// RetentionScheduleUser is the user scheduled retention's deletion
// records name.
const RetentionScheduleUser = "imagegate/retention-schedule"

// retentionMetrics are imagegate_retention_*: what scheduled runs did.
type retentionMetrics struct {
	runs      *prometheus.CounterVec
	deleted   prometheus.Counter
	skipped   prometheus.Counter
	remaining prometheus.Gauge
	last      prometheus.Gauge
	duration  prometheus.Histogram
}

func newRetentionMetrics(reg prometheus.Registerer) (*retentionMetrics, error) {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "imagegate", Subsystem: "retention", Name: name, Help: help}
	}
	m := &retentionMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts(opts("runs_total",
			"Scheduled retention runs this replica made, by outcome (ok, failed).")), []string{"outcome"}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts(opts("deleted_tags_total",
			"Tags scheduled retention deleted."))),
		skipped: prometheus.NewCounter(prometheus.CounterOpts(opts("skipped_tags_total",
			"Planned deletions scheduled retention skipped (the tag moved or went, or the deletion was refused)."))),
		remaining: prometheus.NewGauge(prometheus.GaugeOpts(opts("remaining_tags",
			"Planned deletions left past lifecycle.retentionmaxdeletions by this replica's last run."))),
		last: prometheus.NewGauge(prometheus.GaugeOpts(opts("last_success_timestamp_seconds",
			"When this replica's last successful scheduled run ended (Unix time)."))),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "imagegate", Subsystem: "retention",
			Name: "run_duration_seconds", Help: "Time a scheduled retention run took.",
			Buckets: []float64{.1, .5, 1, 5, 10, 30, 60, 300, 900, 3600}}),
	}
	for _, c := range []prometheus.Collector{m.runs, m.deleted, m.skipped, m.remaining, m.last, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.runs.WithLabelValues("ok")
	m.runs.WithLabelValues("failed")
	return m, nil
}

// scheduledRetention applies retention once, as an administrator's
// `imagegate retention apply` over every repository does (bounded by
// lifecycle.retentionmaxdeletions; each deletion recorded, the records
// naming RetentionScheduleUser), and logs and counts what it did. The
// singleton loop runs it on one replica at a time.
func (s *Server) scheduledRetention(ctx context.Context) error {
	var id [8]byte
	_, _ = rand.Read(id[:])
	info := &reqctx.Info{ID: "retention-" + hex.EncodeToString(id[:])}
	info.SetIdentity(reqctx.Identity{Subject: RetentionScheduleUser, Method: "schedule"})
	ctx = reqctx.With(ctx, info)
	start := time.Now()
	res, err := s.retention.Apply(ctx, nil)
	took := time.Since(start)
	m := s.retentionRuns
	m.duration.Observe(took.Seconds())
	m.deleted.Add(float64(len(res.Deleted)))
	m.skipped.Add(float64(len(res.Skipped)))
	if err != nil {
		m.runs.WithLabelValues("failed").Inc()
		s.logger.ErrorContext(ctx, "scheduled retention failed", "request_id", info.ID,
			"deleted", len(res.Deleted), "skipped", len(res.Skipped), "error", err.Error())
		return err
	}
	m.runs.WithLabelValues("ok").Inc()
	m.remaining.Set(float64(res.Remaining))
	m.last.SetToCurrentTime()
	s.logger.InfoContext(ctx, "scheduled retention applied", "request_id", info.ID, "subject", RetentionScheduleUser,
		"deleted", len(res.Deleted), "skipped", len(res.Skipped), "remaining", res.Remaining, logs.Ms("duration_ms", took))
	return nil
}
