package middleware

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/gc"
)

// errFenceUnreachable refuses a deletion that could not be fenced
// against pushes because the fleet store (the metadata database's) is
// unreachable — in either fail mode: a deletion that cannot tombstone
// cannot be safe.
func errFenceUnreachable(cause error) error {
	return errcode.ErrorCodeUnavailable.WithMessage(
		"delete refused: the deletion could not be fenced against pushes (metadata store unreachable); nothing was deleted — retry later").
		WithDetail(map[string]string{"reason": cause.Error()})
}

// fence tombstones manifest dgst for the time of its deletion and refuses
// the deletion when a push naming it (an index listing it, a referrer of
// it) touched it within gc.InFlight: that push may be
// storing now and would name a deleted manifest. A deletion the collector
// already fenced (gc.WithClaimed) is not fenced again. release removes the
// tombstone.
func (m *manifestService) fence(ctx context.Context, dgst digest.Digest) (release func(), err error) {
	f := m.repo.guard.opts.GC.Fence
	if f == nil || gc.Claimed(ctx, dgst) {
		return func() {}, nil
	}
	t, err := f.Claim(ctx, dgst, "delete")
	if errors.Is(err, gc.ErrClaimed) {
		return nil, errcode.ErrorCodeUnavailable.WithMessage(fmt.Sprintf("manifest %s is being deleted by garbage collection or another request; retry", dgst))
	}
	if err != nil {
		return nil, errFenceUnreachable(err)
	}
	release = func() { _ = t.Release(context.WithoutCancel(ctx)) }
	at, err := t.Touched(ctx, gc.KindRef)
	if err != nil {
		release()
		return nil, errFenceUnreachable(err)
	}
	if !at.IsZero() && time.Since(at) < gc.InFlight {
		release()
		return nil, errcode.ErrorCodeUnavailable.WithMessage(fmt.Sprintf(
			"manifest %s is named by a push in progress (an index or referrer, at %s); nothing was deleted — retry in a few minutes", dgst, at.UTC().Format(time.RFC3339)))
	}
	return release, nil
}
