package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
)

// Sweeper resolves records a crash left pending: a push whose process died
// between writing its pending record and finishing it. What storage holds
// decides the outcome — a push whose manifest is stored is accepted (the
// gate let it through before it was stored), one whose manifest is not is
// failed; a deletion whose target is gone is accepted, else failed. Each
// resolved record is published like any final record.
//
// Only records older than Grace are touched: a commit runs at most
// Options.CommitTimeout after its pending record, so a younger one may
// still be in flight on some replica.
type Sweeper struct {
	store     metadata.Store
	namespace distribution.Namespace
	events    Events
	logger    *slog.Logger
	grace     time.Duration
	now       func() time.Time
}

// SweeperOptions configure a Sweeper.
type SweeperOptions struct {
	Store     metadata.Store
	Namespace distribution.Namespace
	Events    Events
	Logger    *slog.Logger
	// Grace is how old a pending record must be to be resolved (default
	// 5 minutes; it must exceed the pipeline's CommitTimeout).
	Grace time.Duration
}

// NewSweeper returns a sweeper over opts.
func NewSweeper(opts SweeperOptions) *Sweeper {
	s := &Sweeper{store: opts.Store, namespace: opts.Namespace, events: opts.Events, logger: opts.Logger,
		grace: opts.Grace, now: func() time.Time { return time.Now().UTC() }}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.grace <= 0 {
		s.grace = 5 * time.Minute
	}
	return s
}

// Run sweeps once at once and then every interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "sweeping pending records failed", "resolved", n, "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep resolves every record pending for longer than the grace period and
// returns how many it resolved.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	q := metadata.PendingQuery{OlderThan: s.now().Add(-s.grace), Limit: 100}
	resolved := 0
	for {
		page, err := s.store.Pending(ctx, q)
		if err != nil {
			return resolved, fmt.Errorf("push: listing pending records: %w", err)
		}
		for _, rec := range page.Records {
			ok, err := s.resolve(ctx, rec)
			if err != nil {
				return resolved, err
			}
			if ok {
				resolved++
			}
		}
		if page.Next == "" {
			return resolved, nil
		}
		q.Cursor = page.Next
	}
}

// resolve finishes rec from what storage holds; false when another
// writer finished it first.
func (s *Sweeper) resolve(ctx context.Context, rec *metadata.Record) (bool, error) {
	present, err := s.present(ctx, rec)
	if err != nil {
		return false, err
	}
	f := metadata.Finish{CommittedAt: s.now()}
	done := present
	if rec.Kind != metadata.KindPush {
		done = !present // a deletion happened when its target is gone
	}
	if done {
		f.Status, f.Reason = metadata.StatusAccepted, "resolved by the sweeper: the push was interrupted after storing it"
		if rec.Kind != metadata.KindPush {
			f.Reason = "resolved by the sweeper: the deletion was interrupted after it happened"
		}
	} else {
		f.Status, f.Reason = metadata.StatusFailed, "resolved by the sweeper: interrupted before it took effect"
	}
	err = s.store.Finish(ctx, rec.ID, f)
	if errors.Is(err, metadata.ErrConflict) {
		return false, nil // its own writer (or another sweeper) finished it
	}
	if err != nil {
		return false, fmt.Errorf("push: resolving record %s: %w", rec.ID, err)
	}
	s.logger.WarnContext(ctx, "resolved a record left pending", "record_id", rec.ID, "kind", string(rec.Kind),
		"repository", rec.Repository, "digest", rec.Digest.String(), "status", string(f.Status))
	if s.events != nil {
		final := *rec
		final.Status, final.Reason, final.CommittedAt = f.Status, f.Reason, &f.CommittedAt
		s.events.Publish(ctx, final)
	}
	return true, nil
}

// present reports whether what rec is about is in storage: the manifest
// of a push or a manifest deletion, the tag of a tag deletion.
func (s *Sweeper) present(ctx context.Context, rec *metadata.Record) (bool, error) {
	named, err := reference.WithName(rec.Repository)
	if err != nil {
		return false, nil // no such repository can hold anything
	}
	repo, err := s.namespace.Repository(ctx, named)
	if err != nil {
		return false, fmt.Errorf("push: opening repository %s: %w", rec.Repository, err)
	}
	if rec.Kind == metadata.KindDeleteTag {
		if len(rec.Tags) == 0 {
			return false, nil
		}
		_, err := repo.Tags(ctx).Get(ctx, rec.Tags[0])
		var unknown distribution.ErrTagUnknown
		if errors.As(err, &unknown) {
			return false, nil
		}
		return err == nil, err
	}
	return s.manifestStored(ctx, repo, rec.Digest)
}

func (s *Sweeper) manifestStored(ctx context.Context, repo distribution.Repository, d digest.Digest) (bool, error) {
	if d.Validate() != nil {
		return false, nil
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return false, fmt.Errorf("push: manifests of %s: %w", repo.Named().Name(), err)
	}
	ok, err := ms.Exists(ctx, d)
	if err != nil {
		return false, fmt.Errorf("push: checking manifest %s: %w", d, err)
	}
	return ok, nil
}
