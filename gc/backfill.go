package gc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/fleet"
)

// stateSpace holds the collector's markers and lease.
const stateSpace = "gc-state"

// backfilledKey marks that every manifest stored before the references
// index existed has its entry: until it is written the collector deletes
// nothing.
const backfilledKey = "backfilled"

// ErrNotBackfilled: the references index does not cover content stored
// before it existed yet.
var ErrNotBackfilled = errors.New("garbage collection deletes nothing until the references index is backfilled from storage: run `imagegate gc --backfill` (POST /api/v1/gc/backfill) once")

// Backfilled is what one Backfill did.
type Backfilled struct {
	Repositories int `json:"repositories"`
	Manifests    int `json:"manifests"`
	// UnindexedLeft counts the not-indexed markers that remain (their
	// pushes may still be storing): passes delete nothing until they go.
	UnindexedLeft int   `json:"unindexed_left"`
	DurationMS    int64 `json:"duration_ms"`
}

// Backfill writes the entry of every manifest revision stored in ns
// (walking every repository), resolves the not-indexed markers
// (gc/reindex.go), then writes the marker that lets the collector
// delete. Entries written meanwhile by pushes are replaced by the same
// content; a manifest deleted while the walk runs may leave an extra
// entry (its blobs kept: never a missing reference). It is idempotent.
func (c *Collector) Backfill(ctx context.Context) (Backfilled, error) {
	start := time.Now()
	var out Backfilled
	repos, ok := c.opts.Namespace.(distribution.RepositoryEnumerator)
	if !ok {
		return out, errors.New("gc: the storage cannot enumerate repositories")
	}
	err := repos.Enumerate(ctx, func(name string) error {
		out.Repositories++
		n, err := c.backfillRepository(ctx, name)
		out.Manifests += n
		return err
	})
	var empty storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &empty) { // no repository stored yet: nothing to index
		return out, fmt.Errorf("gc: backfilling the references index: %w", err)
	}
	if out.UnindexedLeft, err = c.reindex(ctx); err != nil {
		return out, fmt.Errorf("gc: indexing the manifests pushed while the index was unreachable: %w", err)
	}
	if _, err := fleet.Update(ctx, c.opts.Store, stateSpace, backfilledKey, 0, func([]byte, bool) ([]byte, error) {
		return []byte(c.now().UTC().Format(time.RFC3339)), nil
	}); err != nil {
		return out, fmt.Errorf("gc: marking the backfill done: %w", err)
	}
	out.DurationMS = time.Since(start).Milliseconds()
	c.opts.Logger.InfoContext(ctx, "gc references backfilled", "repositories", out.Repositories, "manifests", out.Manifests, "duration_ms", out.DurationMS)
	return out, nil
}

func (c *Collector) backfillRepository(ctx context.Context, name string) (int, error) {
	named, err := reference.WithName(name)
	if err != nil {
		return 0, err
	}
	repo, err := c.opts.Namespace.Repository(ctx, named)
	if err != nil {
		return 0, err
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return 0, err
	}
	en, ok := ms.(distribution.ManifestEnumerator)
	if !ok {
		return 0, errors.New("gc: the storage cannot enumerate manifests")
	}
	n := 0
	err = en.Enumerate(ctx, func(d digest.Digest) error {
		m, err := ms.Get(ctx, d)
		if err != nil {
			return nil // a revision without its blob: nothing to keep
		}
		_, payload, err := m.Payload()
		if err != nil {
			return nil
		}
		n++
		return c.refs.Put(ctx, EntryOf(name, d, m, payload, c.now()))
	})
	var missing storagedriver.PathNotFoundError
	if errors.As(err, &missing) {
		return n, nil // a repository without manifest revisions (only blobs, or tags)
	}
	return n, err
}

// backfilled reports whether Backfill has completed once.
func (c *Collector) backfilled(ctx context.Context) (bool, error) {
	_, err := c.opts.Store.Get(ctx, stateSpace, backfilledKey)
	if errors.Is(err, fleet.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
