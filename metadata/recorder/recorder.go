// Package recorder writes metadata records durably for the push path: it
// applies the configured failure mode when the store is unreachable and
// replays, from a durable outbox, what could not be written at once. A
// single node's outbox is a bbolt file; replicas share one in the
// registry's object storage (outbox_storage.go), which any replica
// replays, so that queued records survive the replica that wrote them.
package recorder

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/internal/health"
	"github.com/imagegate/imagegate/metadata"
)

// Mode is what a push does when the metadata store cannot be reached.
type Mode string

const (
	// FailClosed refuses the push (503): nothing is stored unrecorded.
	FailClosed Mode = "closed"
	// FailOpen accepts the push and queues its record in the outbox.
	FailOpen Mode = "open"
)

// Options configure a Recorder.
type Options struct {
	Mode Mode
	// OutboxPath is the bbolt file of a single node's outbox (used when
	// Storage is nil).
	OutboxPath string
	// Storage, when set, holds the outbox instead of OutboxPath: the
	// registry's storage driver, shared by the replicas, under
	// /imagegate/outbox/metadata/. Every replica replays it, polling every
	// Poll.
	Storage storagedriver.StorageDriver
	// Fleet, when set with Storage, serialises the replays of the replicas
	// under one lease (space "singletons", key "metadata-outbox"), so that
	// one replica replays at a time; Owner names this process in it (empty:
	// the host name and a random suffix). Without it replays may overlap:
	// harmless (writes are idempotent) but wasted.
	Fleet fleet.Store
	Owner string
	// Poll is how often a replica looks for ops the others queued, with a
	// shared outbox; 0: DefaultPoll.
	Poll time.Duration
	// Timeout bounds each store call made for a request.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the replay's retry delays.
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
}

// Recorder writes records through a Store, with an outbox behind it.
type Recorder struct {
	store metadata.Store
	box   outbox
	opts  Options

	wake chan struct{}
	stop chan struct{}
	done sync.WaitGroup
}

// outboxWriteTimeout bounds one write to the outbox: longer than a store
// call (Options.Timeout), since the outbox is the last resort of a record.
const outboxWriteTimeout = time.Minute

// DefaultPoll is the default Options.Poll.
const DefaultPoll = 30 * time.Second

// New opens the outbox and starts replaying whatever it holds from a
// previous run (or, shared, from any replica). Close stops the replay and closes the outbox (not the store).
func New(store metadata.Store, opts Options) (*Recorder, error) {
	if opts.Mode != FailClosed && opts.Mode != FailOpen {
		return nil, fmt.Errorf("recorder: mode must be %q or %q, got %q", FailClosed, FailOpen, opts.Mode)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var box outbox = newStorageOutbox(opts.Storage)
	if opts.Storage == nil {
		b, err := openBoltOutbox(opts.OutboxPath)
		if err != nil {
			return nil, err
		}
		box = b
	} else {
		if opts.Poll <= 0 {
			opts.Poll = DefaultPoll
		}
		if opts.Owner == "" {
			host, _ := os.Hostname()
			opts.Owner = host + "-" + rand.Text()[:8]
		}
	}
	r := &Recorder{store: store, box: box, opts: opts, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	r.done.Go(r.replay)
	r.nudge()
	return r, nil
}

// Store is the store records go to.
func (r *Recorder) Store() metadata.Store { return r.store }

// Put stores rec. When the store is unavailable it returns the error in
// fail-closed mode (the caller must not act), and in fail-open mode queues
// rec durably and returns nil. Other errors (invalid, conflict) are returned.
func (r *Recorder) Put(ctx context.Context, rec *metadata.Record) error {
	cctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	err := r.store.Put(cctx, rec)
	cancel()
	if err == nil || !unavailable(ctx, err) || r.opts.Mode == FailClosed {
		return err
	}
	qctx, cancel := context.WithTimeout(ctx, outboxWriteTimeout)
	defer cancel()
	if qerr := r.box.enqueue(qctx, op{Put: rec}); qerr != nil {
		return errors.Join(err, qerr)
	}
	r.opts.Logger.Warn("metadata store unavailable; record queued in the outbox",
		"record_id", rec.ID, "error", err.Error())
	r.nudge()
	return nil
}

// Finish sets a pending record's outcome. The action it describes has
// already happened, so a failure to reach the store never fails the
// caller: the update is queued durably (in both modes) and replayed.
// Only a conflict or an outbox failure is returned.
func (r *Recorder) Finish(ctx context.Context, id string, f metadata.Finish) error {
	cctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	err := r.store.Finish(cctx, id, f)
	cancel()
	if err == nil || errors.Is(err, metadata.ErrConflict) {
		return err
	}
	// Unavailable, or not found because its Put is still in the outbox.
	// The outcome happened: the caller going away does not cancel it.
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outboxWriteTimeout)
	defer cancel()
	if qerr := r.box.enqueue(qctx, op{FinishID: id, Finish: &f}); qerr != nil {
		return errors.Join(err, qerr)
	}
	r.opts.Logger.Warn("metadata finish queued in the outbox", "record_id", id, "error", err.Error())
	r.nudge()
	return nil
}

// Check is the readiness check: failing when the store cannot be reached
// in fail-closed mode (pushes would be refused), degraded when it cannot be
// reached in fail-open mode or when records wait in the outbox.
func (r *Recorder) Check(ctx context.Context) error {
	pingErr := r.store.Ping(ctx)
	if pingErr != nil && r.opts.Mode == FailClosed {
		return fmt.Errorf("metadata store unreachable (failmode closed: pushes are refused): %w", pingErr)
	}
	n, err := r.box.len(ctx)
	if err != nil {
		return fmt.Errorf("metadata outbox unreadable: %w", err)
	}
	switch {
	case pingErr != nil:
		return health.Degraded(fmt.Errorf("metadata store unreachable, %d records queued in the outbox: %w", n, pingErr))
	case n > 0:
		return health.Degraded(fmt.Errorf("%d records waiting in the outbox", n))
	}
	return nil
}

// Pending is the number of writes waiting in the outbox (with a shared
// outbox: queued by any replica).
func (r *Recorder) Pending() (int, error) { return r.box.len(context.Background()) }

// Close stops the replay and closes the outbox.
func (r *Recorder) Close() error {
	close(r.stop)
	r.done.Wait()
	return r.box.close()
}

func (r *Recorder) nudge() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// unavailable reports whether err means the store could not be reached (as
// opposed to a verdict on the record). The caller's own cancellation is not
// the store's fault and is returned as is.
func unavailable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	return errors.Is(err, metadata.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}
