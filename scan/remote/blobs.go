package remote

import (
	"context"
	"fmt"
	"io"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// BlobOpener opens a blob of repository (compressed, as stored) for a
// scan. A scanner calls it with the repository named in the request.
type BlobOpener func(ctx context.Context, repository string, d digest.Digest) (io.ReadCloser, error)

// StorageBlobs opens blobs through ns, the registry's storage opened with
// the registry's own storage configuration: a blob opens only when it is
// linked into the repository, exactly as the registry's gate would open it.
func StorageBlobs(ns distribution.Namespace) BlobOpener {
	return func(ctx context.Context, repository string, d digest.Digest) (io.ReadCloser, error) {
		named, err := reference.WithName(repository)
		if err != nil {
			return nil, fmt.Errorf("scan/remote: repository %q: %w", repository, err)
		}
		repo, err := ns.Repository(ctx, named)
		if err != nil {
			return nil, fmt.Errorf("scan/remote: opening repository %s: %w", repository, err)
		}
		rc, err := repo.Blobs(ctx).Open(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("scan/remote: blob %s of %s: %w", d, repository, err)
		}
		return rc, nil
	}
}
