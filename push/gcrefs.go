package push

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/gc"
)

// GC is the push's side of online garbage collection (package gc): the
// references index and the touch/tombstone fence, both in the fleet
// store (the metadata database's). Zero: off.
type GC struct {
	Refs  *gc.Refs
	Fence *gc.Fence
	// Unindexed is where, under FailOpen, a push whose fence or entry the
	// fleet store could not take leaves its "not indexed" marker, in
	// storage (gc/unindexed.go): the collector deletes nothing until it
	// has indexed the manifest.
	Unindexed *gc.Unindexed
	// FailOpen is metadata.failmode open: a push goes on (with its marker)
	// when the fleet store is unreachable; closed refuses it, as the
	// record's write would.
	FailOpen bool
	// Metrics count the writes that went on without the store; nil: none.
	Metrics *gc.Metrics
	// BlobTouchTimeout bounds a blob upload's or mount's touch, best
	// effort (0: gc.BlobTouchTimeout).
	BlobTouchTimeout time.Duration
}

// BlobTouchWithin is how long a blob upload or mount waits for its touch.
func (g GC) BlobTouchWithin() time.Duration {
	if g.BlobTouchTimeout > 0 {
		return g.BlobTouchTimeout
	}
	return gc.BlobTouchTimeout
}

// fenceRefs runs just before x is stored: it touches every digest x
// references (and x's own, for a retag or retry), waits out any deleter's
// tombstone on them, and indexes x's references — so the collector either
// sees the touch and skips, or the push sees the tombstone and waits; the
// store stage then checks once more that every blob and child exists
// (MANIFEST_BLOB_UNKNOWN when a deleter took one). The entry is written
// before the manifest is visible: a crash leaves at worst an extra entry.
//
// When the fleet store cannot be reached (a metadata store outage) the
// push is refused under fail-closed, with the record's wording; under
// fail-open x is marked as not indexed in storage and goes on. That is
// safe because no deletion happens while the store is down — every one
// (a pass's or a client's DELETE) first writes a tombstone to the store,
// and a pass also needs its lease there — and the collector indexes
// marked manifests, deleting nothing while a marker remains, once the
// store is back (gc/reindex.go).
func (p *Pipeline) fenceRefs(ctx context.Context, x *Push) error {
	g := p.opts.GC
	if g.Refs == nil {
		return nil
	}
	err := p.fenceAndIndex(ctx, x)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return err
	case errors.Is(err, gc.ErrTombstoned):
		return errcode.ErrorCodeUnavailable.WithMessage(fmt.Sprintf(
			"a manifest or blob this push uses is being deleted by garbage collection; nothing was stored — retry (%v)", err))
	case !g.FailOpen || g.Unindexed == nil:
		return errIndexUnreachable(err)
	}
	if merr := g.Unindexed.Mark(ctx, x.Repository, x.canonical, p.now()); merr != nil {
		return fmt.Errorf("push: the references index is unreachable (%v) and the not-indexed marker could not be stored: %w", err, merr)
	}
	g.Metrics.Unreachable(gc.UnreachableManifest)
	p.logger.WarnContext(ctx, "the gc references index is unreachable (metadata store); manifest stored with a not-indexed marker, garbage collection waits for it",
		"repository", x.Repository, "digest", x.canonical.String(), "error", err.Error())
	return nil
}

// fenceAndIndex is fenceRefs's work in the fleet store: every touch in
// parallel, then every tombstone read (gc.Fence.TouchAll), then the entry
// — written last, so a refused push leaves no entry.
func (p *Pipeline) fenceAndIndex(ctx context.Context, x *Push) error {
	g := p.opts.GC
	e := gc.EntryOf(x.Repository, x.canonical, x.manifest, x.Payload, p.now())
	if err := g.Fence.TouchAll(ctx, gc.Touches{Kind: gc.KindSelf, Digests: []digest.Digest{x.canonical}},
		gc.Touches{Kind: gc.KindRef, Digests: e.Referenced()}); err != nil {
		return err
	}
	return g.Refs.Put(ctx, e)
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

// errIndexUnreachable refuses a push whose references entry could not be
// written (fail-closed): the metadata database holds the fleet store, so
// the answer is the record's own (push/record.go). Nothing was stored.
func errIndexUnreachable(cause error) error {
	return errcode.ErrorCodeUnavailable.WithMessage(
		"push refused: the garbage collection references could not be written (metadata store unreachable); nothing was stored — retry later").
		WithDetail(map[string]string{"reason": cause.Error()})
}
