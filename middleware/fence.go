package middleware

import (
	"context"
	"errors"
	"fmt"

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

// fence tombstones manifest dgst for the time of a client's deletion, so
// that a push naming it (an index listing it, a referrer of it) which
// reads the tombstone backs off. A push that read no tombstone is caught
// by its store stage, which checks once more that every child exists
// (MANIFEST_BLOB_UNKNOWN). A recent touch by a push does not refuse the
// deletion: touches outlive their push by up to gc.InFlight, and
// deleting a manifest an index lists is the client's right, as in
// distribution (the collector, not a client, is what touches must stop).
// A deletion the collector already fenced (gc.WithClaimed) is not fenced
// again. release removes the tombstone.
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
	return func() { _ = t.Release(context.WithoutCancel(ctx)) }, nil
}
