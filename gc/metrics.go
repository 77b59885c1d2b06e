package gc

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the collector's Prometheus families (imagegate_gc_*). A nil
// *Metrics counts nothing.
type Metrics struct {
	manifests, blobs, bytes prometheus.Counter
	aliases, orphans        prometheus.Counter
	scanReportsDeleted      prometheus.Counter
	skipped                 *prometheus.CounterVec
	unreachable             *prometheus.CounterVec
	unreadable              prometheus.Gauge
	pass                    prometheus.Histogram
}

// NewMetrics registers the families with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		manifests: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "gc", Name: "manifests_deleted_total",
			Help: "Manifests garbage collection deleted."}),
		blobs: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "gc", Name: "blobs_deleted_total",
			Help: "Blobs garbage collection deleted."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "gc", Name: "bytes_deleted_total",
			Help: "Bytes of the blobs garbage collection deleted."}),
		aliases: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "gc", Name: "aliases_deleted_total",
			Help: "Registry-wide blob aliases (sha512 digests for anonymous mounts) garbage collection deleted, with their blob or because it was no longer stored."}),
		orphans: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "gc", Name: "derived_orphans_deleted_total",
			Help: "Derived objects (diff_id entries, layer indexes) garbage collection deleted because their blob was no longer stored."}),
		scanReportsDeleted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "gc", Name: "scan_reports_deleted_total",
			Help: "Scan reports stored in the storage driver (too big for their fleet item) garbage collection deleted once past their time."}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "gc", Name: "skipped_total",
			Help: "Candidates a pass did not delete, by reason (touched: a push used it; claimed: another deleter held it; stale: the tombstone aged; refused: the deletion path refused)."},
			[]string{"reason"}),
		unreachable: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "gc", Name: "fence_unreachable_total",
			Help: "Writes that went on without the fleet store (upload: a blob upload's touch; mount: a mount's touch; manifest: a manifest stored with a not-indexed marker, fail-open)."},
			[]string{"what"}),
		unreadable: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "imagegate", Subsystem: "gc", Name: "unreadable_markers",
			Help: "Files under /imagegate/gc/unindexed the last pass or backfill could not attribute (their path names no manifest): garbage collection deletes nothing until they are removed (each logged with its path)."}),
		pass: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "imagegate", Subsystem: "gc", Name: "pass_duration_seconds",
			Help: "Time of one garbage collection pass.", Buckets: []float64{.1, .5, 1, 5, 10, 30, 60, 300, 900, 3600}}),
	}
	for _, c := range []prometheus.Collector{m.manifests, m.blobs, m.bytes, m.aliases, m.orphans, m.scanReportsDeleted, m.skipped, m.unreachable, m.unreadable, m.pass} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) deleted(manifests, blobs int, bytes int64) {
	if m == nil {
		return
	}
	m.manifests.Add(float64(manifests))
	m.blobs.Add(float64(blobs))
	m.bytes.Add(float64(bytes))
}

func (m *Metrics) strays(aliases, orphans int) {
	if m == nil {
		return
	}
	m.aliases.Add(float64(aliases))
	m.orphans.Add(float64(orphans))
}

func (m *Metrics) scanReports(n int) {
	if m != nil {
		m.scanReportsDeleted.Add(float64(n))
	}
}

func (m *Metrics) skip(reason string) {
	if m != nil {
		m.skipped.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) passed(start time.Time) {
	if m != nil {
		m.pass.Observe(time.Since(start).Seconds())
	}
}

// What went on without the fleet store (Metrics.Unreachable).
const (
	UnreachableUpload   = "upload"
	UnreachableMount    = "mount"
	UnreachableManifest = "manifest"
)

// Unreachable counts a write that went on although the fleet store could
// not be reached for its touch or its references entry.
func (m *Metrics) Unreachable(what string) {
	if m != nil {
		m.unreachable.WithLabelValues(what).Inc()
	}
}

// unreadableMarkers sets how many marker files could not be attributed.
func (m *Metrics) unreadableMarkers(n int) {
	if m != nil {
		m.unreadable.Set(float64(n))
	}
}
