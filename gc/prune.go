package gc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/distribution/reference"

	"github.com/imagegate/imagegate/fleet"
)

// pruneLimit bounds the references index entries one pass checks for a
// stored manifest (one existence check each: a GetObject and a HeadObject
// on S3, tagReads at once); the next pass continues after the last one
// checked, so that successive passes go round the whole index.
const pruneLimit = fleet.MaxListLimit

// pruneCursorKey (in stateSpace) is the key of the last entry checked.
const pruneCursorKey = "prune-after"

// prune removes up to limit stale entries of the references index —
// entries whose manifest is no longer stored in their repository, written
// longer than the grace period ago (younger ones may belong to a push
// whose manifest is not stored yet) — checking the entries after the
// cursor the previous pass left. An entry rewritten meanwhile (its
// manifest pushed again) is kept: each deletion is conditional on the
// version read. A storage failure is an error, never "not stored". It
// returns how many it removed. A pruned entry's blobs are still live for
// the pass that pruned it; a later pass collects them.
func (c *Collector) prune(ctx context.Context, limit int) (int, error) {
	after := ""
	if it, err := c.opts.Store.Get(ctx, stateSpace, pruneCursorKey); err == nil {
		after = string(it.Value)
	} else if !errors.Is(err, fleet.ErrNotFound) {
		return 0, fmt.Errorf("gc: reading the prune cursor: %w", err)
	}
	items, err := c.opts.Store.List(ctx, refsSpace, after, limit)
	if err != nil {
		return 0, fmt.Errorf("gc: listing the references index: %w", err)
	}
	now, pruned := c.now(), 0
	var old []fleet.Item
	var entries []Entry
	for _, it := range items {
		var e Entry
		if err := json.Unmarshal(it.Value, &e); err != nil {
			return 0, fmt.Errorf("gc: references entry %s: %w", it.Key, err)
		}
		if now.Sub(e.Written) >= c.opts.Grace {
			old, entries = append(old, it), append(entries, e)
		}
	}
	stored, err := c.manifestsStored(ctx, entries)
	if err != nil {
		return 0, err
	}
	for i, e := range entries {
		c.reach("prune-checked", e.Manifest.String())
		if stored[i] {
			continue
		}
		err := c.opts.Store.Delete(ctx, refsSpace, old[i].Key, old[i].Version)
		switch {
		case errors.Is(err, fleet.ErrConflict), errors.Is(err, fleet.ErrNotFound):
			continue // rewritten or removed meanwhile
		case err != nil:
			return pruned, fmt.Errorf("gc: pruning the references of %s@%s: %w", e.Repository, e.Manifest, err)
		}
		pruned++
		c.opts.Logger.InfoContext(ctx, "gc pruned a references entry", "audit", "gc", "repository", e.Repository,
			"digest", e.Manifest.String(), "why", "its manifest is not stored")
	}
	next := "" // a short page is the index's end: start again next pass
	if len(items) == limit {
		next = items[len(items)-1].Key
	}
	if _, err := fleet.Update(ctx, c.opts.Store, stateSpace, pruneCursorKey, 0, func([]byte, bool) ([]byte, error) {
		return []byte(next), nil
	}); err != nil {
		return pruned, fmt.Errorf("gc: saving the prune cursor: %w", err)
	}
	return pruned, nil
}

// manifestsStored reports, per entry, whether its manifest is stored in
// its repository, checking tagReads at once; a failure is the error.
func (c *Collector) manifestsStored(ctx context.Context, entries []Entry) ([]bool, error) {
	out := make([]bool, len(entries))
	errs := make([]error, len(entries))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(tagReads, len(entries)) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(entries) && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				out[i], errs[i] = c.manifestStored(ctx, entries[i])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err // the first: an outage fails them all alike
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("gc: checking the indexed manifests: %w", err)
	}
	return out, nil
}

// manifestStored reports whether e's manifest is stored in its
// repository.
func (c *Collector) manifestStored(ctx context.Context, e Entry) (bool, error) {
	named, err := reference.WithName(e.Repository)
	if err != nil {
		return false, fmt.Errorf("gc: references entry of repository %q: %w", e.Repository, err)
	}
	repo, err := c.opts.Namespace.Repository(ctx, named)
	if err != nil {
		return false, err
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return false, err
	}
	ok, err := ms.Exists(ctx, e.Manifest)
	if err != nil {
		return false, fmt.Errorf("gc: checking that %s@%s is stored: %w", e.Repository, e.Manifest, err)
	}
	return ok, nil
}
