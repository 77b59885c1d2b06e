// Package notify delivers imagegate's events to webhooks: CloudEvents 1.0
// in structured JSON, signed with HMAC-SHA256 per endpoint, at least once.
//
// Every event an endpoint's filters select is first written to a durable
// outbox — before the request that caused it is answered — and then
// delivered in the background with exponential backoff and jitter,
// surviving restarts. A single node's outbox is a bbolt file; replicas
// share one in a fleet.Store, where any live replica delivers what a dead
// one queued (outbox_shared.go). A receiver sees the same event id (also in
// Idempotency-Key) on every retry and must deduplicate on it. See
// docs/notifications.md for the format and how to verify signatures.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/internal/health"
	"github.com/imagegate/imagegate/internal/repopattern"
	"github.com/imagegate/imagegate/metadata"
)

// Endpoint is one webhook receiver.
type Endpoint struct {
	// Name identifies the endpoint in logs, metrics and the outbox; keep it
	// when changing the URL so that queued deliveries follow.
	Name string
	URL  string
	// Secret keys the HMAC signature; empty sends no signature.
	Secret []byte
	// Events are the types delivered; empty means all.
	Events []Type
	// Repositories are patterns (internal/repopattern); empty means all.
	Repositories []string
	// Timeout bounds one delivery request; 0 uses Options.Timeout.
	Timeout time.Duration
}

// Options configure a Notifier.
type Options struct {
	Endpoints []Endpoint
	// OutboxPath is the bbolt file of a single node's outbox (opened only
	// when there are endpoints and Shared is nil).
	OutboxPath string
	// Shared, when set, holds the outbox instead of OutboxPath: replicas
	// given the same store share it, and any live replica delivers the
	// events a dead one queued. It must be durable and shared (the fleet
	// store of the metadata database): fleet.Memory is neither.
	Shared fleet.Store
	// Owner names this process in the shared outbox's leases; it must be
	// unique among live replicas. Empty: the host name and a random suffix.
	Owner string
	// Lease is how long a replica's claim on its deliveries outlives its
	// last renewal (renewed every Lease/3): how long the events of a dead
	// replica wait before another takes them over. 0: DefaultLease.
	Lease time.Duration
	// Source is the CloudEvents source attribute (a URI reference).
	Source string
	// MaxAttempts bounds the deliveries of one event to one endpoint;
	// after the last failure it is kept as a dead letter and logged.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the delay between attempts (doubled
	// after each failure, with jitter).
	MinBackoff, MaxBackoff time.Duration
	// Concurrency bounds the requests in flight, all endpoints together.
	Concurrency int
	// MaxPending bounds the deliveries queued for one endpoint; while an
	// endpoint is that far behind, its new events are dropped (logged and
	// counted in lost_total) rather than letting the outbox grow without
	// end. 0 means no bound.
	MaxPending int
	// Timeout is the default bound on one delivery request.
	Timeout time.Duration
	// Client sends the requests; nil uses a client without redirects.
	Client *http.Client
	// Registerer receives the delivery metrics; nil registers none.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// Publisher is what the rest of imagegate calls to emit events. Every
// method is safe for concurrent use, never blocks on a receiver, and is a
// no-op on a nil *Notifier.
type Publisher interface {
	// Publish emits the event of a final record (push accepted, rejected
	// or failed; deletion accepted). Pending records emit nothing.
	Publish(ctx context.Context, rec metadata.Record)
	// Scanned emits scan.completed for a record whose Scan was just filled
	// (its status may still be pending; ID is empty for rescans).
	Scanned(ctx context.Context, rec metadata.Record)
	// UploadFailed emits upload.failed for a tarball upload.
	UploadFailed(ctx context.Context, f UploadFailure)
}

// Notifier queues events in its outbox and delivers them.
type Notifier struct {
	opts      Options
	endpoints map[string]*endpoint
	order     []*endpoint // as configured, for filtering
	box       outbox
	recent    recentLog // the last attempts per endpoint
	queue     *queue
	turn      int // round robin over endpoints (dispatcher only)
	metrics   *metrics
	logger    *slog.Logger
	now       func() time.Time

	wake      chan struct{}
	stop      chan struct{}
	done      sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// endpoint is an Endpoint with its compiled filters and delivery state.
type endpoint struct {
	Endpoint
	patterns []repopattern.Pattern
	redacted string // URL for logs: redactURL
	health   endpointHealth
}

// New checks opts, opens the outbox when there are endpoints and starts
// delivering what it holds from a previous run. Close stops it.
func New(opts Options) (*Notifier, error) {
	if opts.MaxAttempts < 1 {
		opts.MaxAttempts = 1
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	if opts.Concurrency < 1 {
		opts.Concurrency = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Source == "" {
		opts.Source = "imagegate"
	}
	if opts.Client == nil {
		opts.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := &Notifier{opts: opts, endpoints: map[string]*endpoint{}, logger: opts.Logger, now: opts.Now,
		wake: make(chan struct{}, 1), stop: make(chan struct{})}
	for _, e := range opts.Endpoints {
		ep, err := compile(e)
		if err != nil {
			return nil, err
		}
		if _, dup := n.endpoints[e.Name]; dup {
			return nil, fmt.Errorf("notify: endpoint name %q is used twice", e.Name)
		}
		n.endpoints[e.Name] = ep
		n.order = append(n.order, ep)
	}
	if len(n.order) == 0 {
		return n, nil
	}
	box, where, err := openOutbox(opts)
	if err != nil {
		return nil, err
	}
	n.box, n.queue = box, newQueue()
	n.metrics = newMetrics(opts.Registerer, box)
	registerBacklog(opts.Registerer, n.queue, n.order)
	if err := box.start(n); err != nil {
		box.close()
		return nil, fmt.Errorf("notify: starting the outbox (%s): %w", where, err)
	}
	n.recent = newRecentLog(opts, box)
	n.done.Go(n.dispatch)
	n.nudge()
	return n, nil
}

func compile(e Endpoint) (*endpoint, error) {
	u, err := url.Parse(e.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("notify: endpoint %q: url must be an absolute http or https URL", e.Name)
	}
	if e.Name == "" {
		return nil, errors.New("notify: an endpoint has no name")
	}
	ep := &endpoint{Endpoint: e, redacted: redactURL(u)}
	for _, p := range e.Repositories {
		pat, err := repopattern.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("notify: endpoint %q: %w", e.Name, err)
		}
		ep.patterns = append(ep.patterns, pat)
	}
	return ep, nil
}

// redactURL is u as logs and dead letters show it: scheme and host only.
// Receivers often carry their credential in the path or query (Slack,
// Teams, ?token=), which url.URL.Redacted keeps; "/…" marks that there is
// more.
func redactURL(u *url.URL) string {
	s := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		s += "/…"
	}
	return s
}

// wants reports whether the endpoint's filters select an event of type t
// about repository (which may be empty: only unfiltered endpoints get it).
func (e *endpoint) wants(t Type, repository string) bool {
	if len(e.Events) > 0 {
		found := false
		for _, et := range e.Events {
			found = found || et == t
		}
		if !found {
			return false
		}
	}
	if len(e.patterns) == 0 {
		return true
	}
	for _, p := range e.patterns {
		if repository != "" && p.Match(repository) {
			return true
		}
	}
	return false
}

// Publish implements Publisher.
func (n *Notifier) Publish(ctx context.Context, rec metadata.Record) {
	if n == nil || n.box == nil {
		return
	}
	t := typeOf(&rec)
	if t == "" {
		return
	}
	at := rec.ReceivedAt
	if rec.CommittedAt != nil {
		at = *rec.CommittedAt
	}
	n.emit(ctx, t, subjectOf(rec.Repository, rec.Digest), at, dataOf(&rec))
}

// Scanned implements Publisher.
func (n *Notifier) Scanned(ctx context.Context, rec metadata.Record) {
	if n == nil || n.box == nil || rec.Scan == nil {
		return
	}
	d := dataOf(&rec)
	d.Status = "" // the push's outcome is not known yet: push.* says it
	n.emit(ctx, ScanCompleted, subjectOf(rec.Repository, rec.Digest), rec.Scan.ScannedAt, d)
}

// UploadFailed implements Publisher.
func (n *Notifier) UploadFailed(ctx context.Context, f UploadFailure) {
	if n == nil || n.box == nil {
		return
	}
	d := Data{RecordID: f.RecordID, Repository: f.Repository, Tags: f.Tags, Size: f.Size,
		Source: metadata.SourceTarUpload, RequestID: f.RequestID, UploadID: f.UploadID, Reason: f.Reason}
	if f.User.Subject != "" || f.User.Method != "" {
		d.User = &User{Subject: f.User.Subject, Method: f.User.Method}
	}
	subject := f.Repository
	if subject == "" {
		subject = "upload/" + f.UploadID
	}
	n.emit(ctx, UploadFailed, subject, n.now(), d)
}

// emit queues one event for every endpoint that wants it. The event is
// durable when emit returns; a failure to write the outbox is logged and
// counted (the action it describes has already happened).
func (n *Notifier) emit(ctx context.Context, t Type, subject string, at time.Time, data Data) {
	var targets []*endpoint
	for _, e := range n.order {
		if !e.wants(t, data.Repository) {
			continue
		}
		if max := n.opts.MaxPending; max > 0 && n.queue.size(e.Name) >= max {
			n.metrics.lost.WithLabelValues(t.Short()).Inc()
			n.logger.ErrorContext(ctx, "notification dropped: endpoint backlog full", "endpoint", e.Name,
				"type", string(t), "subject", subject, "max_pending", max)
			continue
		}
		targets = append(targets, e)
	}
	if len(targets) == 0 {
		return
	}
	if at.IsZero() {
		at = n.now()
	}
	ev := &Event{SpecVersion: "1.0", ID: metadata.NewID(), Source: n.opts.Source, Type: t, Subject: subject,
		Time: at.UTC(), DataContentType: "application/json", Data: data}
	body, err := ev.encode()
	var ds []delivery
	var keys []string
	if err == nil {
		now := n.now().UTC()
		ds = make([]delivery, len(targets))
		for i, e := range targets {
			ds[i] = delivery{Endpoint: e.Name, EventID: ev.ID, Type: t, Body: body, Enqueued: now, Next: now}
		}
		// The action the event describes has happened: a caller that
		// goes away does not cancel its event.
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.opts.Timeout)
		keys, err = n.box.enqueue(ectx, ds)
		cancel()
	}
	if err != nil {
		n.metrics.lost.WithLabelValues(t.Short()).Inc()
		n.logger.ErrorContext(ctx, "notification lost: outbox write failed", "event_id", ev.ID, "type", string(t),
			"subject", subject, "endpoints_lost", len(targets)-len(keys), "error", err.Error())
		if len(keys) == 0 {
			return
		}
	}
	ps := make([]*pending, len(keys))
	for i, key := range keys {
		d := ds[i]
		d.Body = nil
		ps[i] = &pending{key: key, d: d}
	}
	n.queue.add(ps...)
	n.metrics.events.WithLabelValues(t.Short()).Inc()
	n.logger.DebugContext(ctx, "notification queued", "event_id", ev.ID, "type", string(t), "subject", subject,
		"endpoints", len(keys))
	n.nudge()
}

// Check is a readiness check: degraded while an endpoint is failing (its
// last attempt failed); never failing, since pushes work regardless.
// Given-up deliveries show in the logs and metrics, not here: they would
// degrade readiness for good.
func (n *Notifier) Check(context.Context) error {
	if n == nil || n.box == nil {
		return nil
	}
	var failing []string
	for _, e := range n.order {
		if e.health.failing() {
			failing = append(failing, e.Name)
		}
	}
	if len(failing) == 0 {
		return nil
	}
	pending, _, err := n.box.counts(context.Background())
	if err != nil {
		return health.Degraded(fmt.Errorf("webhook endpoints failing: %v; outbox unreadable: %w", failing, err))
	}
	return health.Degraded(fmt.Errorf("webhook endpoints failing: %v; %d deliveries pending", failing, pending))
}

// Pending counts the deliveries waiting and given up. With a shared
// outbox, pending counts those this replica holds (the sum over replicas
// is the backlog) and dead is refreshed every two leases, up to 1,000.
func (n *Notifier) Pending() (pending, dead int, err error) {
	if n == nil || n.box == nil {
		return 0, 0, nil
	}
	return n.box.counts(context.Background())
}

// MaxDeadLetters bounds a page of DeadLetters.
const MaxDeadLetters = 1000

// DeadLetters returns up to limit (at most MaxDeadLetters) deliveries
// given up, oldest first, after the cursor after ("" for the first page;
// then the last DeadLetter's Cursor). With a shared outbox every replica
// sees every replica's dead letters.
func (n *Notifier) DeadLetters(ctx context.Context, after string, limit int) ([]DeadLetter, error) {
	if n == nil || n.box == nil {
		return nil, nil
	}
	return n.box.deadLetters(ctx, after, min(max(limit, 1), MaxDeadLetters))
}

// Close stops delivering, interrupts the requests in flight and closes the
// outbox. Undelivered events (the interrupted ones too) stay queued for
// the next start — or, with a shared outbox, for the replica that takes
// them over (Close releases this replica's leases, so that happens at the
// other replicas' next round). Calling it again returns the first call's
// result.
func (n *Notifier) Close() error {
	if n == nil || n.box == nil {
		return nil
	}
	n.closeOnce.Do(func() {
		close(n.stop)
		n.done.Wait()
		n.recent.close() // before the outbox: a single node's is in its file
		n.closeErr = n.box.close()
	})
	return n.closeErr
}

func (n *Notifier) nudge() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

var _ Publisher = (*Notifier)(nil)
