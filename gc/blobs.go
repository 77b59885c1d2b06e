package gc

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
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
// older than the grace period.
func (c *Collector) planBlobs(ctx context.Context, p *Plan, live map[digest.Digest]bool, now time.Time) error {
	limit := c.opts.MaxDeletions - len(p.Manifests)
	err := c.opts.Driver.Walk(ctx, blobsRoot, func(fi storagedriver.FileInfo) error {
		if fi.IsDir() || path.Base(fi.Path()) != "data" {
			return nil
		}
		d, ok := blobDigest(fi.Path())
		if !ok || live[d] {
			return nil
		}
		age := now.Sub(fi.ModTime())
		if age < c.opts.Grace {
			return nil
		}
		if len(p.Blobs) >= limit {
			p.Truncated = true
			return storagedriver.ErrFilledBuffer
		}
		p.Blobs = append(p.Blobs, BlobCandidate{Digest: d, Size: fi.Size(), Since: fi.ModTime().UTC(), path: fi.Path(),
			Why: fmt.Sprintf("unreferenced, stored %s ago (grace %s)", age.Round(time.Second), c.opts.Grace)})
		return nil
	})
	var notFound storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &notFound) && !errors.Is(err, storagedriver.ErrFilledBuffer) {
		return fmt.Errorf("gc: walking the stored blobs: %w", err)
	}
	return nil
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

// deleteBlobs deletes the data of blobs: one batch call when the driver
// can, else one Delete each (of the blob's folder); absent is no error.
func (c *Collector) deleteBlobs(ctx context.Context, blobs []BlobCandidate) error {
	if len(blobs) == 0 {
		return nil
	}
	if bd, ok := c.opts.Driver.(BatchDeleter); ok {
		paths := make([]string, len(blobs))
		for i, b := range blobs {
			paths[i] = blobDataPath(b.Digest)
		}
		return bd.DeleteFiles(ctx, paths)
	}
	for _, b := range blobs {
		err := c.opts.Driver.Delete(ctx, path.Dir(blobDataPath(b.Digest)))
		var notFound storagedriver.PathNotFoundError
		if err != nil && !errors.As(err, &notFound) {
			return fmt.Errorf("gc: deleting blob %s: %w", b.Digest, err)
		}
	}
	return nil
}
