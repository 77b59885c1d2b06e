package gc

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/layers"
)

// blobsRoot is where distribution keeps blob data:
// <root>/<algorithm>/<first two hex>/<hex>/data.
const blobsRoot = "/docker/registry/v2/blobs"

// BatchDeleter is a storage driver that deletes many files in one call
// (storagedriver/s3: DeleteObjects batches); absent paths are no error.
type BatchDeleter interface {
	DeleteFiles(ctx context.Context, paths []string) error
}

// planBlobs adds to p every stored blob live does not hold whose data is
// older than the grace period, and sets watch[d] for each blob d of
// watch it meets; walked says whether it met every stored blob (the
// walk stops at MaxDeletions candidates).
func (c *Collector) planBlobs(ctx context.Context, p *Plan, live, watch map[digest.Digest]bool, now time.Time) (walked bool, err error) {
	limit := c.opts.MaxDeletions - len(p.Manifests)
	walked = true
	err = c.opts.Driver.Walk(ctx, blobsRoot, func(fi storagedriver.FileInfo) error {
		if fi.IsDir() || path.Base(fi.Path()) != "data" {
			return nil
		}
		d, ok := blobDigest(fi.Path())
		if _, w := watch[d]; ok && w {
			watch[d] = true
		}
		if !ok || live[d] {
			return nil
		}
		age := now.Sub(fi.ModTime())
		if age < c.opts.Grace {
			return nil
		}
		if len(p.Blobs) >= limit {
			p.Truncated, walked = true, false
			return storagedriver.ErrFilledBuffer
		}
		p.Blobs = append(p.Blobs, BlobCandidate{Digest: d, Size: fi.Size(), Since: fi.ModTime().UTC(), path: fi.Path(),
			Why: fmt.Sprintf("unreferenced, stored %s ago (grace %s)", age.Round(time.Second), c.opts.Grace)})
		return nil
	})
	var notFound storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &notFound) && !errors.Is(err, storagedriver.ErrFilledBuffer) {
		return false, fmt.Errorf("gc: walking the stored blobs: %w", err)
	}
	return walked, nil
}

// blobStored reports whether d's data is stored, by listing its folder
// (one LIST on S3, where a Stat of a missing object is a HEAD and a
// LIST); a failure is the error, never "not stored".
func (c *Collector) blobStored(ctx context.Context, d digest.Digest) (bool, error) {
	data, found := blobDataPath(d), false
	err := c.opts.Driver.Walk(ctx, path.Dir(data), func(fi storagedriver.FileInfo) error {
		if fi.Path() == data && !fi.IsDir() {
			found = true
			return storagedriver.ErrFilledBuffer
		}
		return nil
	})
	var notFound storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &notFound) && !errors.Is(err, storagedriver.ErrFilledBuffer) {
		return false, fmt.Errorf("gc: checking that blob %s is stored: %w", d, err)
	}
	return found, nil
}

// blobDigest is the digest of the blob whose data is at p.
func blobDigest(p string) (digest.Digest, bool) {
	rest, ok := strings.CutPrefix(p, blobsRoot+"/")
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 || parts[3] != "data" {
		return "", false
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(parts[0]), parts[2])
	if d.Validate() != nil {
		return "", false
	}
	return d, true
}

// blobDataPath is where d's data is stored.
func blobDataPath(d digest.Digest) string {
	return path.Join(blobsRoot, d.Algorithm().String(), d.Encoded()[:2], d.Encoded(), "data")
}

// derivedPaths are the objects imagegate derives from blob d and keeps
// beside it, keyed by its digest, which go with it: its diff_ids
// (diffid) and its layer index (layers).
func derivedPaths(d digest.Digest) []string {
	return append(diffid.EntryPaths(d), layers.EntryPaths(d)...)
}

// derivedDirs are the folders of derivedPaths, for drivers deleting
// folders.
func derivedDirs(d digest.Digest) []string {
	return []string{diffid.EntryDir(d), layers.EntryDir(d)}
}

// deleteBlobs deletes the data of blobs, their aliases and what is
// derived from them (derivedPaths): one batch call when the driver can,
// else one Delete each (of each alias, the derived folders and the
// blob's folder); absent is no error. A blob's aliases and derived
// objects are deleted before its data, so that a failure leaves the
// data, and the blob a candidate of the next pass.
// (A derived object that outlives its blob is never wrong, only unused:
// it is a function of the blob's content.)
func (c *Collector) deleteBlobs(ctx context.Context, blobs []BlobCandidate) error {
	if len(blobs) == 0 {
		return nil
	}
	if bd, ok := c.opts.Driver.(BatchDeleter); ok {
		paths := make([]string, 0, len(blobs)*(1+len(derivedPaths(blobs[0].Digest))))
		for _, b := range blobs {
			paths = append(append(append(paths, b.aliasPaths...), derivedPaths(b.Digest)...), blobDataPath(b.Digest))
		}
		return bd.DeleteFiles(ctx, paths)
	}
	for _, b := range blobs {
		for _, p := range slices.Concat(b.aliasPaths, derivedDirs(b.Digest), []string{path.Dir(blobDataPath(b.Digest))}) {
			if err := c.deleteAbsentOK(ctx, p); err != nil {
				return fmt.Errorf("gc: deleting blob %s (%s): %w", b.Digest, p, err)
			}
		}
	}
	return nil
}

// deleteAbsentOK deletes p (a file or a folder, with what is below it);
// a p already gone is no error.
func (c *Collector) deleteAbsentOK(ctx context.Context, p string) error {
	err := c.opts.Driver.Delete(ctx, p)
	var notFound storagedriver.PathNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	return err
}
