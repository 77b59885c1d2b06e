package gc

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
)

// Strays are what a pass deletes although no blob goes with it: the
// aliases (AliasCandidate) and the derived objects (OrphanCandidate) of
// blobs that are no longer stored. Each blob's strays are deleted under
// the blob's tombstone, after a recheck:
//
//   - a touch of the blob (an upload or mount of it: the fence) skips
//     them; a writer touching it after the tombstone waits for the
//     deletion, and stores the blob — and writes its entries, which the
//     registry's upload does after its commit — only after it;
//   - the blob stored again, an alias or entry rewritten since the plan
//     listed it, or younger than the grace period (an entry the tarball
//     door wrote just before committing its blob, which the tombstone
//     does not hold back: its touch comes after) keeps them.
//
// Either way a stray is a function of its blob's content: one deleted at
// the very moment its blob is stored again costs a computation, never a
// wrong answer.

// strays are the strays of one blob.
type strays struct {
	blob    digest.Digest
	aliases []AliasCandidate
	orphans []OrphanCandidate
}

// strayRead is what a plan reads of the stray trees before it walks the
// blobs: the windows, the aliases and the derived entry folders in them,
// and watch, the blobs whose being stored decides (set to true when the
// blob walk meets them).
type strayRead struct {
	windows []window
	aliases []aliasFile
	groups  []*OrphanCandidate
	watch   map[digest.Digest]bool
}

// readStrays reads the windows of the stray trees.
func (c *Collector) readStrays(ctx context.Context, now time.Time) (*strayRead, error) {
	w, aliases, err := c.readAliases(ctx)
	if err != nil {
		return nil, err
	}
	ws, groups, err := c.readOrphans(ctx, now)
	if err != nil {
		return nil, err
	}
	r := &strayRead{windows: append([]window{w}, ws...), aliases: aliases, groups: groups, watch: map[digest.Digest]bool{}}
	for _, a := range aliases {
		if now.Sub(a.fi.ModTime()) >= c.opts.Grace {
			r.watch[a.blob] = false
		}
	}
	for _, g := range groups {
		r.watch[g.Blob] = false
	}
	return r, nil
}

// planStrays adds to p the aliases of its blob candidates and the strays
// of blobs not stored. walked says whether the blob walk saw every
// stored blob (then a watched blob it did not meet is not stored); else
// those it did not meet are checked one by one.
func (c *Collector) planStrays(ctx context.Context, p *Plan, r *strayRead, walked bool, now time.Time) error {
	if !walked {
		var unknown []digest.Digest
		for d, seen := range r.watch {
			if !seen {
				unknown = append(unknown, d)
			}
		}
		stored, err := c.blobsStored(ctx, unknown)
		if err != nil {
			return err
		}
		maps.Copy(r.watch, stored)
	}
	c.planAliases(p, r.aliases, r.watch, now)
	c.planOrphans(p, r.groups, r.watch, now)
	p.windows = r.windows
	return nil
}

// byBlob groups p's strays by blob, in digest order.
func byBlob(p *Plan) []*strays {
	m := map[digest.Digest]*strays{}
	get := func(d digest.Digest) *strays {
		if m[d] == nil {
			m[d] = &strays{blob: d}
		}
		return m[d]
	}
	for _, a := range p.Aliases {
		s := get(a.Blob)
		s.aliases = append(s.aliases, a)
	}
	for _, o := range p.Orphans {
		s := get(o.Blob)
		s.orphans = append(s.orphans, o)
	}
	out := make([]*strays, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *strays) int { return cmp.Compare(a.blob, b.blob) })
	return out
}

// sweepStrays deletes p's strays, blobBatch blobs' worth at a time, and
// counts them in res.
func (c *Collector) sweepStrays(ctx context.Context, p *Plan, res *Result) error {
	all := byBlob(p)
	for i := 0; i < len(all); i += blobBatch {
		if err := c.sweepStrayBatch(ctx, all[i:min(i+blobBatch, len(all))], res); err != nil {
			return err
		}
	}
	return nil
}

// sweepStrayBatch fences each blob of batch, rechecks its strays and
// deletes those that are still strays, in one call, while the tombstones
// are fresh.
func (c *Collector) sweepStrayBatch(ctx context.Context, batch []*strays, res *Result) error {
	var held []*Tombstone
	defer func() {
		for _, t := range held {
			_ = t.Release(context.WithoutCancel(ctx))
		}
	}()
	var fenced []*strays
	for _, s := range batch {
		t, skip, err := c.fenced(ctx, s.blob)
		if err != nil {
			return err
		}
		if t != nil {
			held = append(held, t)
		}
		if skip != "" {
			res.Skipped = append(res.Skipped, Skip{Digest: s.blob, Why: "its aliases and derived objects: " + skip})
			continue
		}
		fenced = append(fenced, s)
	}
	now := c.now()
	kept := make([]*strays, len(fenced))
	err := parallel(ctx, len(fenced), func(ctx context.Context, i int) error {
		s, err := c.recheck(ctx, fenced[i], now)
		kept[i] = s
		return err
	})
	if err != nil {
		return err
	}
	kept = slices.DeleteFunc(kept, func(s *strays) bool { return s == nil })
	for _, t := range held {
		if !t.Fresh() {
			return fmt.Errorf("gc: the batch's tombstones aged (%s) before the deletion; nothing deleted", TombstoneTTL/4)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	if err := c.blockedByMarkers(ctx); err != nil {
		return err
	}
	if err := c.deleteStrays(ctx, kept); err != nil {
		return err
	}
	var aliases, objects int
	blobs := make([]string, len(kept))
	for i, s := range kept {
		aliases += len(s.aliases)
		for _, o := range s.orphans {
			objects += len(o.Objects)
		}
		blobs[i] = s.blob.String()
	}
	res.Aliases += aliases
	res.DerivedOrphans += objects
	c.opts.Metrics.strays(aliases, objects)
	c.opts.Logger.InfoContext(ctx, "gc deleted the aliases and derived objects of blobs not stored", "audit", "gc",
		"aliases", aliases, "derived_objects", objects, "blobs", blobs)
	return nil
}

// recheck is what is left of s's strays under the blob's tombstone (nil
// when nothing): none when the blob is stored; of the rest, those still
// there, not rewritten since the plan, older than the grace period.
func (c *Collector) recheck(ctx context.Context, s *strays, now time.Time) (*strays, error) {
	c.reach("stray-rechecking", s.blob.String())
	if ok, err := c.blobStored(ctx, s.blob); err != nil || ok {
		return nil, err
	}
	out := &strays{blob: s.blob}
	var err error
	if out.aliases, err = c.aliasesOf(ctx, s.aliases, now); err != nil {
		return nil, err
	}
	for _, o := range s.orphans {
		o, ok, err := c.entriesOf(ctx, o, now)
		if err != nil {
			return nil, err
		}
		if ok {
			out.orphans = append(out.orphans, o)
		}
	}
	if len(out.aliases) == 0 && len(out.orphans) == 0 {
		return nil, nil
	}
	return out, nil
}

// deleteStrays deletes the strays of ss: one batch call when the driver
// can (each blob's aliases, then its entries), else one Delete per alias
// and per entry folder; absent is no error.
func (c *Collector) deleteStrays(ctx context.Context, ss []*strays) error {
	if bd, ok := c.opts.Driver.(BatchDeleter); ok {
		var paths []string
		for _, s := range ss {
			for _, a := range s.aliases {
				paths = append(paths, a.path)
			}
			for _, o := range s.orphans {
				paths = append(paths, o.Objects...)
			}
		}
		return bd.DeleteFiles(ctx, paths)
	}
	for _, s := range ss {
		var paths []string
		for _, a := range s.aliases {
			paths = append(paths, a.path)
		}
		for _, o := range s.orphans {
			paths = append(paths, o.kind.dir(o.Blob))
		}
		for _, p := range paths {
			if err := c.deleteAbsentOK(ctx, p); err != nil {
				return fmt.Errorf("gc: deleting %s (blob %s is not stored): %w", p, s.blob, err)
			}
		}
	}
	return nil
}
