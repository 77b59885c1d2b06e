package gc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/lifecycle"
)

// blobBatch is how many blobs one deletion call removes at most (S3
// DeleteObjects takes 1,000); writers wait for a batch's tombstones.
const blobBatch = 500

// leaseKey is the lease a pass holds: one replica at a time.
const leaseKey = "lease"

// ErrBusy: another replica is running a pass.
var ErrBusy = errors.New("a garbage collection pass is running on another replica")

// Result is what one Run did.
type Result struct {
	Manifests []ManifestCandidate `json:"manifests_deleted"`
	Blobs     int                 `json:"blobs_deleted"`
	Bytes     int64               `json:"bytes_deleted"`
	Skipped   []Skip              `json:"skipped"`
	// Pruned: references index entries removed, their manifest no longer
	// stored (prune).
	Pruned int `json:"index_entries_pruned"`
	// Aliases: registry-wide blob aliases deleted, with their blob or
	// because their blob was no longer stored (strays.go).
	Aliases int `json:"aliases_deleted"`
	// DerivedOrphans: derived objects (diff_id entries, layer indexes)
	// deleted because their blob was no longer stored (strays.go).
	DerivedOrphans int `json:"derived_orphans_deleted"`
	// ScanReports: stored scan reports deleted past their time
	// (scanreports.go).
	ScanReports int `json:"scan_reports_deleted"`
	// Truncated: the pass's bounds left candidates: run again.
	Truncated  bool  `json:"truncated,omitempty"`
	DurationMS int64 `json:"duration_ms"`
}

// Skip is a candidate a pass did not delete, and why.
type Skip struct {
	Repository string        `json:"repository,omitempty"`
	Digest     digest.Digest `json:"digest"`
	Why        string        `json:"why"`
}

// claimedKey marks a context whose deletion of a digest is already
// fenced by the collector's tombstone (the guard does not fence again).
type claimedKey struct{}

// WithClaimed marks ctx as deleting d under a tombstone its caller holds.
func WithClaimed(ctx context.Context, d digest.Digest) context.Context {
	return context.WithValue(ctx, claimedKey{}, d)
}

// Claimed reports whether ctx deletes d under its caller's tombstone.
func Claimed(ctx context.Context, d digest.Digest) bool {
	c, _ := ctx.Value(claimedKey{}).(digest.Digest)
	return c != "" && c == d
}

// Run is one pass, on one replica at a time (ErrBusy otherwise): it
// indexes the manifests pushed while the index could not be written
// (ErrUnindexed, deleting nothing, while one remains), plans, then
// deletes each candidate manifest through the guard and each candidate
// blob through the storage driver, every one only after
// tombstoning it and finding no touch (Fence). It deletes nothing before
// the references index is backfilled (ErrNotBackfilled). A manifest's
// blobs go at a later pass, once nothing references them. Then it
// deletes the aliases and derived objects of blobs no longer stored
// (sweepStrays) and the stored scan reports past their time
// (sweepScanReports), and last it prunes up to pruneLimit stale index entries
// (prune).
func (c *Collector) Run(ctx context.Context) (Result, error) {
	start := time.Now()
	res := Result{Manifests: []ManifestCandidate{}, Skipped: []Skip{}}
	lease, err := fleet.Acquire(ctx, c.opts.Store, stateSpace, leaseKey, c.opts.Replica, time.Minute)
	if errors.Is(err, fleet.ErrHeld) {
		return res, ErrBusy
	}
	if err != nil {
		return res, fmt.Errorf("gc: taking the lease: %w", err)
	}
	ctx, stop := c.renew(ctx, lease)
	defer stop()
	defer c.opts.Metrics.passed(start)
	// Manifests pushed while the fleet store was unreachable (fail-open)
	// are indexed first; while one cannot be, nothing is deleted.
	if left, err := c.reindex(ctx); err != nil {
		return res, err
	} else if left > 0 {
		return res, ErrUnindexed
	}
	p, err := c.Plan(ctx)
	if err != nil {
		return res, err
	}
	if !p.Backfilled {
		return res, ErrNotBackfilled
	}
	c.reach("planned", "")
	res.Truncated = p.Truncated
	for _, m := range p.Manifests {
		if err := c.deleteManifest(ctx, m, &res); err != nil {
			return res, err
		}
	}
	for i := 0; i < len(p.Blobs); i += blobBatch {
		if time.Since(start) > c.opts.Grace/2 {
			res.Truncated = true // touches outlive a pass only this long
			break
		}
		if err := c.sweepBlobs(ctx, p.Blobs[i:min(i+blobBatch, len(p.Blobs))], &res); err != nil {
			return res, err
		}
	}
	if time.Since(start) > c.opts.Grace/2 {
		res.Truncated = true // the windows are checked again next pass
	} else {
		if err := c.sweepStrays(ctx, p, &res); err != nil {
			return res, err
		}
		if err := c.sweepScanReports(ctx, p.ScanReports, &res); err != nil {
			return res, err
		}
		if err := c.saveCursors(ctx, p.windows); err != nil {
			return res, err
		}
	}
	if res.Pruned, err = c.prune(ctx, pruneLimit); err != nil {
		return res, err
	}
	res.DurationMS = time.Since(start).Milliseconds()
	c.opts.Logger.InfoContext(ctx, "gc pass done", "manifests_deleted", len(res.Manifests), "blobs_deleted", res.Blobs,
		"bytes_deleted", res.Bytes, "skipped", len(res.Skipped), "index_entries_pruned", res.Pruned,
		"aliases_deleted", res.Aliases, "derived_orphans_deleted", res.DerivedOrphans,
		"scan_reports_deleted", res.ScanReports, "truncated", res.Truncated,
		"duration_ms", res.DurationMS)
	return res, nil
}

// renew keeps the lease while the pass runs; the returned ctx ends when
// it is lost, stop releases it.
func (c *Collector) renew(ctx context.Context, lease *fleet.Lease) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if err := lease.Renew(ctx); err != nil {
				cancel(fmt.Errorf("gc: lease lost: %w", err))
				return
			}
		}
	})
	return ctx, func() {
		close(done)
		wg.Wait()
		_ = lease.Release(context.WithoutCancel(ctx))
		cancel(nil)
	}
}

// fenced claims d and reports why it must be skipped ("" to delete):
// claimed by another deleter, or touched by a writer. The caller releases
// the tombstone (nil when skipped for a claim).
func (c *Collector) fenced(ctx context.Context, d digest.Digest) (*Tombstone, string, error) {
	t, err := c.opts.Fence.Claim(ctx, d, c.opts.Replica)
	if errors.Is(err, ErrClaimed) {
		c.opts.Metrics.skip("claimed")
		return nil, "another deleter holds it", nil
	}
	if err != nil {
		return nil, "", err
	}
	c.reach("tombstoned", d.String())
	at, err := t.Touched(ctx, "")
	if err != nil {
		_ = t.Release(context.WithoutCancel(ctx))
		return nil, "", err
	}
	c.reach("checked", d.String())
	if !at.IsZero() && c.now().Sub(at) < c.opts.Grace {
		c.opts.Metrics.skip("touched")
		return t, fmt.Sprintf("used by a push or upload at %s", at.UTC().Format(time.RFC3339)), nil
	}
	return t, "", nil
}

// deleteManifest deletes m through the guard under its tombstone.
func (c *Collector) deleteManifest(ctx context.Context, m ManifestCandidate, res *Result) error {
	if c.opts.Guard == nil {
		return nil
	}
	t, skip, err := c.fenced(ctx, m.Digest)
	if err != nil {
		return err
	}
	if t != nil {
		defer func() { _ = t.Release(context.WithoutCancel(ctx)) }()
	}
	if skip != "" {
		res.Skipped = append(res.Skipped, Skip{Repository: m.Repository, Digest: m.Digest, Why: skip})
		return nil
	}
	if err := c.blockedByMarkers(ctx); err != nil {
		return err
	}
	named, err := reference.WithName(m.Repository)
	if err != nil {
		return err
	}
	repo, err := c.opts.Namespace.Repository(ctx, named)
	if err != nil {
		return err
	}
	// Deleting a manifest deletes the tags naming it: one tagged since the
	// plan (a push touches it too) is skipped.
	if tags, err := repo.Tags(ctx).Lookup(ctx, v1.Descriptor{Digest: m.Digest}); err != nil || len(tags) > 0 {
		why := fmt.Sprintf("tagged since the plan (%s)", strings.Join(tags, ", "))
		if err != nil {
			why = "its tags could not be read: " + err.Error()
		}
		c.opts.Metrics.skip("touched")
		res.Skipped = append(res.Skipped, Skip{Repository: m.Repository, Digest: m.Digest, Why: why})
		return nil
	}
	ms, err := c.opts.Guard(repo).Manifests(ctx)
	if err != nil {
		return err
	}
	dctx := WithClaimed(lifecycle.WithCause(ctx, "gc: "+m.Why), m.Digest)
	if err := ms.Delete(dctx, m.Digest); err != nil {
		c.opts.Metrics.skip("refused")
		res.Skipped = append(res.Skipped, Skip{Repository: m.Repository, Digest: m.Digest, Why: "the deletion path refused: " + err.Error()})
		return nil
	}
	res.Manifests = append(res.Manifests, m)
	c.opts.Metrics.deleted(1, 0, 0)
	c.opts.Logger.InfoContext(ctx, "gc deleted a manifest", "audit", "gc", "repository", m.Repository, "digest", m.Digest.String(), "why", m.Why)
	return nil
}

// sweepBlobs fences each blob of batch and deletes those no writer
// touched, in one call, while their tombstones are fresh.
func (c *Collector) sweepBlobs(ctx context.Context, batch []BlobCandidate, res *Result) error {
	var held []*Tombstone
	defer func() {
		for _, t := range held {
			_ = t.Release(context.WithoutCancel(ctx))
		}
	}()
	var doomed []BlobCandidate
	for _, b := range batch {
		t, skip, err := c.fenced(ctx, b.Digest)
		if err != nil {
			return err
		}
		if t != nil {
			held = append(held, t)
		}
		if skip != "" {
			res.Skipped = append(res.Skipped, Skip{Digest: b.Digest, Why: skip})
			continue
		}
		if !t.Fresh() {
			c.opts.Metrics.skip("stale")
			res.Skipped = append(res.Skipped, Skip{Digest: b.Digest, Why: "its tombstone aged before the deletion; next pass"})
			continue
		}
		doomed = append(doomed, b)
	}
	for _, t := range held { // a writer reading the tombstone later than its life would miss it
		if !t.Fresh() {
			return fmt.Errorf("gc: the batch's tombstones aged (%s) before the deletion; nothing deleted", TombstoneTTL/4)
		}
	}
	if len(doomed) > 0 {
		if err := c.blockedByMarkers(ctx); err != nil {
			return err
		}
	}
	if err := c.deleteBlobs(ctx, doomed); err != nil {
		return err
	}
	var bytes int64
	digests := make([]string, len(doomed))
	for i, b := range doomed {
		bytes += b.Size
		digests[i] = b.Digest.String()
	}
	res.Blobs += len(doomed)
	res.Bytes += bytes
	c.opts.Metrics.deleted(0, len(doomed), bytes)
	aliases := 0
	for _, b := range doomed {
		aliases += len(b.aliasPaths)
	}
	res.Aliases += aliases
	c.opts.Metrics.strays(aliases, 0)
	if len(doomed) > 0 {
		c.opts.Logger.InfoContext(ctx, "gc deleted blobs", "audit", "gc", "blobs", len(doomed), "bytes", bytes, "digests", digests)
	}
	return nil
}
