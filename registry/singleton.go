package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// singletonSpace is the fleet space of the leases of singleton work.
const singletonSpace = "singletons"

// singletonLeaseTTL is how long a singleton's lease outlives a replica
// that died running it; the holder renews it every third of it.
const singletonLeaseTTL = time.Minute

// singletons run work that one replica of the fleet does at a time (the
// sweeper, upload purging, bucket preparation): each piece holds a lease
// named after it while it runs.
type singletons struct {
	store   fleet.Store
	replica string
	logger  *slog.Logger
}

// exclusive runs fn holding the lease name and reports whether it ran:
// false, without running fn, when another replica holds the lease. fn's
// context ends when the lease is lost (a renewal failed).
func (s singletons) exclusive(ctx context.Context, name string, fn func(context.Context) error) (bool, error) {
	lease, err := fleet.Acquire(ctx, s.store, singletonSpace, name, s.replica, singletonLeaseTTL)
	if errors.Is(err, fleet.ErrHeld) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("registry: taking the %s lease: %w", name, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(singletonLeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if err := lease.Renew(ctx); err != nil {
				if ctx.Err() == nil {
					s.logger.Error("singleton lease lost; stopping its work", "lease", name, "error", err.Error())
				}
				cancel(err)
				return
			}
		}
	})
	err = fn(ctx)
	close(stop)
	wg.Wait()
	release, done := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer done()
	if rerr := lease.Release(release); rerr != nil {
		s.logger.Warn("releasing a singleton lease failed; it expires on its own", "lease", name, "error", rerr.Error())
	}
	return true, err
}

// every runs fn about every interval on one replica of the fleet at a
// time, until ctx ends. Each replica checks every min(interval/4, 1 m)
// whether a run is due — no marker name+"/done", which a run leaves for
// interval — and runs fn when it is and it takes the lease. fn's errors
// are logged; a failed run waits for the next interval too.
func (s singletons) every(ctx context.Context, name string, interval time.Duration, fn func(context.Context) error) {
	t := time.NewTicker(min(interval/4, time.Minute))
	defer t.Stop()
	for {
		if err := s.runIfDue(ctx, name, interval, fn); err != nil && ctx.Err() == nil {
			s.logger.Warn("singleton work failed", "work", name, "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// runIfDue runs fn under the lease name unless a run ended less than
// interval ago.
func (s singletons) runIfDue(ctx context.Context, name string, interval time.Duration, fn func(context.Context) error) error {
	marker := name + "/done"
	due := func(ctx context.Context) (bool, error) {
		_, err := s.store.Get(ctx, singletonSpace, marker)
		if errors.Is(err, fleet.ErrNotFound) {
			return true, nil
		}
		return false, err
	}
	if ok, err := due(ctx); !ok {
		return err
	}
	_, err := s.exclusive(ctx, name, func(ctx context.Context) error {
		if ok, err := due(ctx); !ok { // another replica ran it just before
			return err
		}
		err := fn(ctx)
		if _, merr := fleet.Update(ctx, s.store, singletonSpace, marker, interval, func([]byte, bool) ([]byte, error) {
			return []byte(s.replica), nil
		}); merr != nil {
			err = errors.Join(err, fmt.Errorf("registry: marking %s done: %w", name, merr))
		}
		return err
	})
	return err
}

// startTask is work New runs on one replica at a time (WithStartTask).
type startTask struct {
	name string
	fn   func(context.Context) error
}

// WithStartTask makes New run fn before it builds the server, on the one
// replica that holds the lease name: a replica starting while another
// runs it skips it. fn's error fails New. cmd/imagegate prepares the S3
// bucket (storage.s3.prepare) with it.
func WithStartTask(name string, fn func(context.Context) error) Option {
	return func(o *options) { o.startTasks = append(o.startTasks, startTask{name, fn}) }
}

// runStartTasks runs the start tasks, each under its lease.
func (s singletons) runStartTasks(ctx context.Context, tasks []startTask) error {
	for _, t := range tasks {
		ran, err := s.exclusive(ctx, t.name, t.fn)
		if err != nil {
			return err
		}
		if !ran {
			s.logger.Info("another replica is running this start-up task; skipped", "task", t.name)
		}
	}
	return nil
}
