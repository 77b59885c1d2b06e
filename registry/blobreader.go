package registry

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/ingest"
)

// blobReader reads a stored blob's bytes straight from driver, as a
// stream (push.Options.BlobReader): distribution's BlobStore.Open would
// buffer them in 4 MiB, which is what reading a 2 KB image config cost
// at every view of an image. A blob not stored is
// distribution.ErrBlobUnknown, as from BlobStore.Open.
func blobReader(driver storagedriver.StorageDriver) func(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
	return func(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
		p, err := ingest.BlobDataPath(d)
		if err != nil {
			return nil, err
		}
		rc, err := driver.Reader(ctx, p, 0)
		var missing storagedriver.PathNotFoundError
		if errors.As(err, &missing) {
			return nil, distribution.ErrBlobUnknown
		}
		if err != nil {
			return nil, fmt.Errorf("registry: reading blob %s: %w", d, err)
		}
		return rc, nil
	}
}
