package gc

import (
	"context"
	"errors"
	"fmt"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/reference"
)

// reindex resolves the not-indexed markers (gc/unindexed.go) once the
// fleet store answers again: a marker whose manifest is stored gets that
// manifest's entry written (Written: the marker's time) and is cleared; a
// marker whose manifest is not stored is cleared once older than
// InFlight (its push failed, or the manifest was deleted since); a
// younger one stays, its push may be storing now. A marker whose file
// does not parse is first attributed by its path (attribute). It returns
// how many markers remain (a lower bound past maxMarkers).
func (c *Collector) reindex(ctx context.Context) (int, error) {
	markers, more, err := c.unindexed.List(ctx, maxMarkers)
	if err != nil {
		return 0, err
	}
	n := len(markers)
	markers, left, err := c.attribute(ctx, markers)
	if err != nil {
		return 0, err
	}
	for _, m := range markers {
		done, err := c.reindexOne(ctx, m)
		if err != nil {
			return 0, err
		}
		if !done {
			left++
		}
	}
	if more {
		left++ // the next pass goes on
	}
	if indexed := n - left; indexed > 0 || left > 0 {
		c.opts.Logger.InfoContext(ctx, "gc resolved not-indexed markers", "resolved", indexed, "left", left)
	}
	return left, nil
}

// reindexOne resolves m; false: it stays.
func (c *Collector) reindexOne(ctx context.Context, m Marker) (bool, error) {
	named, err := reference.WithName(m.Repository)
	if err != nil {
		c.opts.Logger.WarnContext(ctx, "a not-indexed marker names no valid repository; it blocks deletion until removed",
			"repository", m.Repository, "manifest", m.Manifest.String(), "root", unindexedRoot)
		return false, nil
	}
	repo, err := c.opts.Namespace.Repository(ctx, named)
	if err != nil {
		return false, fmt.Errorf("gc: opening %s: %w", m.Repository, err)
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return false, fmt.Errorf("gc: opening the manifests of %s: %w", m.Repository, err)
	}
	man, err := ms.Get(ctx, m.Manifest)
	var unknown distribution.ErrManifestUnknownRevision
	var unknownM distribution.ErrManifestUnknown
	switch {
	case errors.As(err, &unknown), errors.As(err, &unknownM), errors.Is(err, distribution.ErrBlobUnknown):
		if c.now().Sub(m.At) < InFlight {
			return false, nil // its push may be storing it now
		}
		return true, c.unindexed.Clear(ctx, m.Repository, m.Manifest)
	case err != nil:
		return false, fmt.Errorf("gc: reading %s@%s, pushed while unindexed: %w", m.Repository, m.Manifest, err)
	}
	_, payload, err := man.Payload()
	if err != nil {
		return false, fmt.Errorf("gc: reading %s@%s, pushed while unindexed: %w", m.Repository, m.Manifest, err)
	}
	if err := c.refs.Put(ctx, EntryOf(m.Repository, m.Manifest, man, payload, m.At)); err != nil {
		return false, err
	}
	return true, c.unindexed.Clear(ctx, m.Repository, m.Manifest)
}

// blockedByMarkers returns ErrUnindexed when any marker exists: checked
// right before each deletion, after its tombstones, so that a push that
// could not touch (fleet store failing for it, not for this pass) and
// wrote its marker first stops the deletion.
func (c *Collector) blockedByMarkers(ctx context.Context) error {
	found, err := c.unindexed.Any(ctx)
	if err != nil {
		return err
	}
	if found {
		return ErrUnindexed
	}
	return nil
}
