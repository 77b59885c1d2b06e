package push

import (
	"context"
	"fmt"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/gc"
)

// GC is the push's side of online garbage collection (package gc): the
// references index and the touch/tombstone fence, both in the fleet
// store. Zero: off.
type GC struct {
	Refs  *gc.Refs
	Fence *gc.Fence
}

// fenceRefs runs just before x is stored: it touches every digest x
// references (and x's own, for a retag or retry), waits out any deleter's
// tombstone on them, and indexes x's references — so the collector either
// sees the touch and skips, or the push sees the tombstone and waits; the
// store stage then checks once more that every blob and child exists
// (MANIFEST_BLOB_UNKNOWN when a deleter took one). The entry is written
// before the manifest is visible: a crash leaves at worst an extra entry.
func (p *Pipeline) fenceRefs(ctx context.Context, x *Push) error {
	g := p.opts.GC
	if g.Refs == nil {
		return nil
	}
	e := gc.EntryOf(x.Repository, x.canonical, x.manifest, x.Payload, p.now())
	if err := g.Fence.Touch(ctx, gc.KindSelf, x.canonical); err != nil {
		return gcUnavailable(err)
	}
	if err := g.Fence.Touch(ctx, gc.KindRef, e.Referenced()...); err != nil {
		return gcUnavailable(err)
	}
	if err := g.Refs.Put(ctx, e); err != nil {
		return gcUnavailable(err)
	}
	return nil
}

// unindex removes the entry of a manifest a failed commit deleted.
func (p *Pipeline) unindex(ctx context.Context, x *Push) {
	if p.opts.GC.Refs == nil {
		return
	}
	if err := p.opts.GC.Refs.Delete(ctx, x.Repository, x.canonical); err != nil {
		p.logger.WarnContext(ctx, "removing the gc references of a deleted manifest failed; its blobs stay until corrected", "error", err.Error())
	}
}

// gcUnavailable is the answer when the fleet store holding the references
// index cannot be written: nothing was stored.
func gcUnavailable(err error) error {
	return errcode.ErrorCodeUnavailable.WithMessage(fmt.Sprintf("the references store is unreachable; nothing was stored — retry (%v)", err))
}
