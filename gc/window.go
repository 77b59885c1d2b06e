package gc

import (
	"context"
	"errors"
	"fmt"
	"sync"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/imagegate/imagegate/fleet"
)

// windowLimit bounds the files of one storage tree (the blob aliases, the
// diff_id entries, the layer indexes) a pass checks for a stored blob;
// the next pass goes on after the last one, round the tree, as prune
// does with the references index.
const windowLimit = fleet.MaxListLimit

// window is the part of a storage tree one pass checks.
type window struct {
	// files are at most limit files of the tree, in walk order, after
	// the cursor the previous pass saved.
	files []storagedriver.FileInfo
	// key is the cursor's key (in stateSpace), next the cursor to save
	// once the pass has dealt with files: the last one's path when the
	// window was full, "" (start again) when it reached the tree's end.
	key, next string
}

// readWindow lists up to limit files of root after the cursor saved
// under key. A missing tree is an empty window.
func (c *Collector) readWindow(ctx context.Context, root, key string, limit int) (window, error) {
	w := window{key: key}
	after := ""
	if it, err := c.opts.Store.Get(ctx, stateSpace, key); err == nil {
		after = string(it.Value)
	} else if !errors.Is(err, fleet.ErrNotFound) {
		return w, fmt.Errorf("gc: reading the cursor %s: %w", key, err)
	}
	err := c.walkAfter(ctx, root, after, true, &w, limit)
	if err != nil && after != "" {
		// distribution's walk cannot resume after a file on the
		// filesystem drivers (it lists the hint, a file: ENOTDIR); the
		// hint is only a hint, so walk from the start.
		w.files, w.next = nil, ""
		err = c.walkAfter(ctx, root, after, false, &w, limit)
	}
	return w, err
}

// walkAfter adds to w up to limit files of root after the path after,
// hinting the walk to start there when hint is set; a missing root adds
// none.
//
// "After" compares whole paths as strings, which is the S3 walk's order
// (by key) but not the filesystem's (by path component: "x/a/f" before
// "x/a-b/f", while "x/a-b/f" < "x/a/f"). The trees windowed here are named
// by digests (<root>/<algorithm>/<hex>[/<entry>]): no name is a sibling's
// prefix followed by a byte below '/', so the two orders agree. A tree
// named otherwise (by repository, by tag) would have files skipped for
// good on the filesystem.
func (c *Collector) walkAfter(ctx context.Context, root, after string, hint bool, w *window, limit int) error {
	var opts []func(*storagedriver.WalkOptions)
	if hint && after != "" {
		opts = append(opts, storagedriver.WithStartAfterHint(after))
	}
	err := c.opts.Driver.Walk(ctx, root, func(fi storagedriver.FileInfo) error {
		if fi.IsDir() || fi.Path() <= after { // the hint is only a hint
			return nil
		}
		w.files = append(w.files, fi)
		if len(w.files) == limit {
			w.next = fi.Path()
			return storagedriver.ErrFilledBuffer
		}
		return nil
	}, opts...)
	var notFound storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &notFound) && !errors.Is(err, storagedriver.ErrFilledBuffer) {
		return fmt.Errorf("gc: walking %s: %w", root, err)
	}
	return nil
}

// saveCursors stores where the next pass's windows start.
func (c *Collector) saveCursors(ctx context.Context, ws []window) error {
	for _, w := range ws {
		if _, err := fleet.Update(ctx, c.opts.Store, stateSpace, w.key, 0, func([]byte, bool) ([]byte, error) {
			return []byte(w.next), nil
		}); err != nil {
			return fmt.Errorf("gc: saving the cursor %s: %w", w.key, err)
		}
	}
	return nil
}

// parallel calls fn for 0…n-1, tagReads at a time, and returns the first
// error.
func parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(tagReads)
	for i := range n {
		g.Go(func() error { return fn(gctx, i) })
	}
	return g.Wait()
}

// stored reports whether the file at p exists, with its information; a
// failure other than "not found" is the error, never "not stored".
func (c *Collector) stored(ctx context.Context, p string) (storagedriver.FileInfo, bool, error) {
	fi, err := c.opts.Driver.Stat(ctx, p)
	var notFound storagedriver.PathNotFoundError
	switch {
	case errors.As(err, &notFound):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("gc: checking %s: %w", p, err)
	}
	return fi, true, nil
}

// blobsStored reports, for each digest of ds, whether its blob's data
// is stored, checking tagReads at once.
func (c *Collector) blobsStored(ctx context.Context, ds []digest.Digest) (map[digest.Digest]bool, error) {
	out := make(map[digest.Digest]bool, len(ds))
	var mu sync.Mutex
	err := parallel(ctx, len(ds), func(ctx context.Context, i int) error {
		ok, err := c.blobStored(ctx, ds[i])
		mu.Lock()
		out[ds[i]] = ok
		mu.Unlock()
		return err
	})
	return out, err
}
