package push

import (
	"context"
	"errors"
	"fmt"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
)

// tagMoves reads, under the commit's lock, what each of x's tags names
// now: the moves its record states (a tag naming the manifest already is
// no move), and what to restore if the commit fails.
func (p *Pipeline) tagMoves(ctx context.Context, x *Push) ([]metadata.TagMove, error) {
	var moves []metadata.TagMove
	x.moved = x.moved[:0]
	ts := x.repo.Tags(ctx)
	for _, t := range x.Tags {
		desc, err := ts.Get(ctx, t)
		var unknown distribution.ErrTagUnknown
		switch {
		case errors.As(err, &unknown):
			desc = v1.Descriptor{}
		case err != nil:
			return nil, fmt.Errorf("push: reading tag %s:%s: %w", x.Repository, t, err)
		}
		x.moved = append(x.moved, movedTag{tag: t, prev: desc})
		if desc.Digest != "" && desc.Digest != x.tagDigest() {
			moves = append(moves, metadata.TagMove{Tag: t, From: desc.Digest})
		}
	}
	return moves, nil
}

// tag points x's tags at its manifest, by the digest the client pushed.
func (p *Pipeline) tag(ctx context.Context, x *Push) error {
	desc := v1.Descriptor{MediaType: x.MediaType, Digest: x.tagDigest(), Size: int64(len(x.Payload))}
	ts := x.repo.Tags(ctx)
	for _, t := range x.Tags {
		if err := ts.Tag(ctx, t, desc); err != nil {
			return fmt.Errorf("push: tagging %s:%s: %w", x.Repository, t, err)
		}
	}
	return nil
}

// undo reverts a failed commit, still under its lock: every tag back to
// what it named before (or removed), every manifest it created deleted.
// It runs after a failure, so its own failures are logged.
func (p *Pipeline) undo(ctx context.Context, pushes []*Push) {
	for i := len(pushes) - 1; i >= 0; i-- {
		x := pushes[i]
		ts := x.repo.Tags(ctx)
		for _, m := range x.moved {
			var err error
			if m.prev.Digest == "" {
				err = ts.Untag(ctx, m.tag)
			} else {
				err = ts.Tag(ctx, m.tag, m.prev)
			}
			var unknown distribution.ErrTagUnknown
			if err != nil && !errors.As(err, &unknown) {
				p.logger.ErrorContext(ctx, "restoring a tag after a failed push failed", "repository", x.Repository,
					"tag", m.tag, "error", err.Error())
			}
		}
		if x.stored {
			if err := p.unstore(ctx, x); err != nil {
				p.logger.ErrorContext(ctx, "deleting the manifest of a failed push failed", "repository", x.Repository,
					"digest", x.canonical.String(), "error", err.Error())
			}
		}
	}
}

// errTagBusy answers a push that could not take its tags' lock: in time
// (another push holds it), or at all (the shared store failed — its text
// stays in the log, never in the answer).
func errTagBusy(cause error) error {
	if !errors.Is(cause, context.DeadlineExceeded) && !errors.Is(cause, context.Canceled) {
		return errcode.ErrorCodeUnavailable.WithMessage("the tag lock store is unreachable; nothing was changed — retry")
	}
	return errcode.ErrorCodeUnavailable.WithMessage("another push to the same tag did not finish in time; nothing was changed — retry").
		WithDetail(map[string]string{"reason": cause.Error()})
}
