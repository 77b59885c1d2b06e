package scan

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Values of the result label of the scan metrics.
const (
	ResultOK         = "ok"
	ResultTimeout    = "timeout"     // the scan did not finish within its deadline
	ResultBusy       = "busy"        // no worker took it (queue full, or waited until the deadline)
	ResultNoDB       = "no_db"       // no vulnerability DB is loaded
	ResultInProgress = "in_progress" // the caller stopped waiting; the scan goes on (scan/detach)
	ResultInvalid    = "invalid"     // the target cannot be scanned
	ResultFailed     = "failed"      // any other error
)

// statusTimeout bounds the Status call behind one scrape of the DB gauges
// (a scanner pool answers it over the network).
const statusTimeout = 5 * time.Second

// metered is a Scanner that counts and times the scans of another.
type metered struct {
	Scanner
	scans    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight atomic.Int64
}

// Metered returns s counted and timed, with its DB state and (when s is a
// Queue, or wraps one: QueueOf) its queue exported as gauges, all
// registered on reg:
//
//	imagegate_scan_scans_total{result}, imagegate_scan_duration_seconds{result},
//	imagegate_scan_in_flight, imagegate_scan_db_loaded,
//	imagegate_scan_db_age_seconds, imagegate_scan_db_max_age_seconds,
//	imagegate_scan_queue_{workers,running,waiting},
//	imagegate_scan_queue_waits_total, imagegate_scan_queue_wait_seconds_total.
//
// maxAge is the DB age readiness tolerates (0: no limit, the gauge is then
// not exported). The DB gauges call s.Status at each scrape.
func Metered(s Scanner, reg prometheus.Registerer, maxAge time.Duration) (Scanner, error) {
	m := &metered{
		Scanner: s,
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "imagegate", Subsystem: "scan", Name: "scans_total",
			Help: "Scans the gate asked for, by result (ok, timeout, busy, no_db, in_progress, invalid, failed).",
		}, []string{"result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "imagegate", Subsystem: "scan", Name: "duration_seconds",
			Help:    "Time of one scan as the gate waited for it (queue included), by result.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600},
		}, []string{"result"}),
	}
	cs := []prometheus.Collector{m.scans, m.duration,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "imagegate", Subsystem: "scan", Name: "in_flight",
			Help: "Scans the gate is waiting for (queued or running)."},
			func() float64 { return float64(m.inFlight.Load()) }),
		&dbCollector{s: s, maxAge: maxAge},
	}
	if q, ok := QueueOf(s); ok { // through scan/detach: the queue is the inner scanner's
		cs = append(cs, QueueCollector(q, nil))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("scan: registering metrics: %w", err)
		}
	}
	return m, nil
}

// Scan implements Scanner: the inner scan, counted and timed.
func (m *metered) Scan(ctx context.Context, t Target) (*Report, error) {
	m.inFlight.Add(1)
	defer m.inFlight.Add(-1)
	start := time.Now()
	r, err := m.Scanner.Scan(ctx, t)
	result := ResultOf(err)
	m.scans.WithLabelValues(result).Inc()
	m.duration.WithLabelValues(result).Observe(time.Since(start).Seconds())
	return r, err
}

// Unwrap returns the scanner Metered wraps.
func (m *metered) Unwrap() Scanner { return m.Scanner }

// ResultOf classifies a Scan error into a Result* value.
func ResultOf(err error) string {
	switch {
	case err == nil:
		return ResultOK
	case errors.Is(err, ErrInProgress):
		return ResultInProgress
	case errors.Is(err, ErrBusy):
		return ResultBusy
	case errors.Is(err, context.DeadlineExceeded):
		return ResultTimeout
	case errors.Is(err, ErrNoDB):
		return ResultNoDB
	case errors.Is(err, ErrInvalidTarget):
		return ResultInvalid
	}
	return ResultFailed
}

// dbCollector exports the scanner's DB state, read at each scrape.
type dbCollector struct {
	s      Scanner
	maxAge time.Duration
}

var (
	dbLoadedDesc = prometheus.NewDesc("imagegate_scan_db_loaded",
		"1 when a vulnerability DB is loaded and scans can run, else 0.", nil, nil)
	dbAgeDesc = prometheus.NewDesc("imagegate_scan_db_age_seconds",
		"Age of the loaded vulnerability DB (now minus its build time); absent when none is loaded.", nil, nil)
	dbMaxAgeDesc = prometheus.NewDesc("imagegate_scan_db_max_age_seconds",
		"The DB age past which /readyz reports the scanner degraded (scan.maxdbage).", nil, nil)
)

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- dbLoadedDesc
	ch <- dbAgeDesc
	ch <- dbMaxAgeDesc
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
	defer cancel()
	st := c.s.Status(ctx)
	loaded := 0.0
	if st.Ready {
		loaded = 1
	}
	ch <- prometheus.MustNewConstMetric(dbLoadedDesc, prometheus.GaugeValue, loaded)
	if age, ok := st.Age(time.Now()); ok {
		ch <- prometheus.MustNewConstMetric(dbAgeDesc, prometheus.GaugeValue, age.Seconds())
	}
	if c.maxAge > 0 {
		ch <- prometheus.MustNewConstMetric(dbMaxAgeDesc, prometheus.GaugeValue, c.maxAge.Seconds())
	}
}

// Age is how old the loaded DB is at now; false when no DB is loaded or
// its build time is unknown.
func (s Status) Age(now time.Time) (time.Duration, bool) {
	if !s.Ready || s.DBUpdatedAt.IsZero() {
		return 0, false
	}
	return max(now.Sub(s.DBUpdatedAt), 0), true
}

// QueueCollector exports q's workers and queue: gauges
// imagegate_scan_queue_{workers,running,waiting} and counters
// imagegate_scan_queue_waits_total, imagegate_scan_queue_wait_seconds_total,
// each with constLabels (nil for none).
func QueueCollector(q Queue, constLabels prometheus.Labels) prometheus.Collector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("imagegate_scan_queue_"+name, help, nil, constLabels)
	}
	return &queueCollector{q: q,
		workers: desc("workers", "Scan workers: the scans that may run at once."),
		running: desc("running", "Scans holding a worker."),
		waiting: desc("waiting", "Scans waiting for a worker (queue depth)."),
		waits:   desc("waits_total", "Scans that got a worker or gave up waiting for one."),
		waited:  desc("wait_seconds_total", "Total time scans waited for a worker; divide its rate by waits_total's for the mean wait."),
	}
}

type queueCollector struct {
	q                                        Queue
	workers, running, waiting, waits, waited *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.workers, c.running, c.waiting, c.waits, c.waited} {
		ch <- d
	}
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.q.QueueStats()
	ch <- prometheus.MustNewConstMetric(c.workers, prometheus.GaugeValue, float64(st.Workers))
	ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(st.Running))
	ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(st.Waiting))
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(st.Waits))
	ch <- prometheus.MustNewConstMetric(c.waited, prometheus.CounterValue, st.WaitSeconds)
}
