package security

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/notify"
)

// Space is the fleet space of the detectors' state.
const Space = "security"

// jobTimeout bounds the store work of one event.
const jobTimeout = 10 * time.Second

// Alerts receives the incidents as webhook events (*notify.Notifier).
type Alerts interface {
	Security(ctx context.Context, a notify.SecurityAlert)
}

// Options configure a Monitor.
type Options struct {
	// Config holds the rules (config.Security; Enabled is not consulted:
	// a disabled section builds no Monitor).
	Config config.Security
	// Store holds the counts: the store the replicas share, so that counts
	// are fleet-wide (fleet.Memory for a single node). Required.
	Store fleet.Store
	// Alerts, when set, receives one event per incident.
	Alerts Alerts
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger writes the audit lines and store errors; nil discards them.
	Logger *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// Monitor runs the detectors over the events it is told about. Its event
// methods (LoginFailed, TokenUsed, RepositoryRead, PushFinished,
// VulnerableLayers) are safe for concurrent use, never block and never
// fail: they queue the event for the workers and return. A nil *Monitor
// ignores every event.
type Monitor struct {
	cfg     config.Security
	store   fleet.Store
	alerts  Alerts
	metrics *metrics
	logger  *slog.Logger
	now     func() time.Time
	seen    *recent // events already counted lately, per process

	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool
	queue  chan job
	done   sync.WaitGroup

	idle     sync.Cond // signalled when pending drops to 0
	idleMu   sync.Mutex
	pending  int
	lastWarn atomic.Int64 // unix nanoseconds of the last store warning
}

// job is one queued event: the detectors' work on it.
type job struct {
	ctx context.Context
	run func(ctx context.Context) error
}

// New starts a Monitor with opts.Config.Workers workers; Close stops it.
func New(opts Options) (*Monitor, error) {
	if opts.Store == nil {
		return nil, errors.New("security: a Monitor needs a fleet store")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	workers := max(opts.Config.Workers, 1)
	m := &Monitor{cfg: opts.Config, store: opts.Store, alerts: opts.Alerts, metrics: newMetrics(opts.Registerer),
		logger: opts.Logger, now: opts.Now, seen: newRecent(recentKeys),
		queue: make(chan job, max(opts.Config.QueueSize, 1))}
	m.idle.L = &m.idleMu
	for range workers {
		m.done.Go(m.work)
	}
	return m, nil
}

// enqueue hands run to the workers without waiting; when the queue is
// full or the Monitor closed, the event is dropped and counted.
func (m *Monitor) enqueue(ctx context.Context, run func(ctx context.Context) error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return
	}
	m.idleMu.Lock()
	m.pending++
	m.idleMu.Unlock()
	select {
	case m.queue <- job{ctx: context.WithoutCancel(ctx), run: run}:
	default:
		m.finished()
		m.metrics.dropped.Inc()
		m.warn(ctx, "security detectors' queue is full; events dropped", nil)
	}
}

// work runs queued jobs until the queue is closed.
func (m *Monitor) work() {
	for j := range m.queue {
		ctx, cancel := context.WithTimeout(j.ctx, jobTimeout)
		if err := j.run(ctx); err != nil {
			m.metrics.errors.Inc()
			m.warn(ctx, "security detection failed; event not counted", err)
		}
		cancel()
		m.finished()
	}
}

func (m *Monitor) finished() {
	m.idleMu.Lock()
	m.pending--
	if m.pending == 0 {
		m.idle.Broadcast()
	}
	m.idleMu.Unlock()
}

// Flush waits until every event queued so far has been checked (tests,
// and shutdown).
func (m *Monitor) Flush() {
	if m == nil {
		return
	}
	m.idleMu.Lock()
	for m.pending > 0 {
		m.idle.Wait()
	}
	m.idleMu.Unlock()
}

// Close stops taking events, checks those queued and returns when the
// workers are done. Calling it again does nothing.
func (m *Monitor) Close() {
	if m == nil {
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	close(m.queue)
	m.mu.Unlock()
	m.done.Wait()
}

// warn logs a problem of the detectors themselves, at most once a minute.
func (m *Monitor) warn(ctx context.Context, msg string, err error) {
	now := time.Now().UnixNano()
	last := m.lastWarn.Load()
	if now-last < int64(time.Minute) || !m.lastWarn.CompareAndSwap(last, now) {
		return
	}
	if err != nil {
		m.logger.WarnContext(ctx, msg, "error", err.Error())
		return
	}
	m.logger.WarnContext(ctx, msg)
}
