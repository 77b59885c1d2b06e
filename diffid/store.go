package diffid

import (
	"context"
	"errors"
	"fmt"
	"path"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
)

// Store remembers the diff_id computed for a layer blob. A blob digest
// names one content forever, so an entry never changes: Put is idempotent
// and replicas writing the same entry at once agree.
type Store interface {
	// Get returns the diff_id in algorithm alg remembered for blob, false
	// if none is.
	Get(ctx context.Context, blob digest.Digest, alg digest.Algorithm) (digest.Digest, bool, error)
	// Put remembers diffID (in its algorithm) for blob. Only a diff_id
	// computed from the blob's own bytes (Compute) may be put.
	Put(ctx context.Context, blob, diffID digest.Digest) error
}

// storeRoot is where DriverStore keeps its entries, registry-wide (a blob
// digest names the same bytes in every repository). It is outside
// distribution's tree, so neither its catalog nor its garbage collector
// sees it.
const storeRoot = "/imagegate/diffids"

// DriverStore is a Store in the registry's own storage driver: one tiny
// object per layer blob, on the filesystem or in the shared S3 bucket, so
// every replica sees what any replica computed.
type DriverStore struct {
	driver storagedriver.StorageDriver
}

// NewDriverStore returns the Store kept in driver.
func NewDriverStore(driver storagedriver.StorageDriver) *DriverStore {
	return &DriverStore{driver: driver}
}

var _ Store = (*DriverStore)(nil)

// entryPath is the object holding the diff_id in alg of blob.
func entryPath(blob digest.Digest, alg digest.Algorithm) string {
	return path.Join(storeRoot, blob.Algorithm().String(), blob.Encoded(), alg.String())
}

// Get implements Store. An entry that does not hold a valid digest is
// treated as absent (it is computed again and overwritten).
func (s *DriverStore) Get(ctx context.Context, blob digest.Digest, alg digest.Algorithm) (digest.Digest, bool, error) {
	if err := blob.Validate(); err != nil {
		return "", false, fmt.Errorf("diffid: blob digest: %w", err)
	}
	b, err := s.driver.GetContent(ctx, entryPath(blob, alg))
	var notFound storagedriver.PathNotFoundError
	if errors.As(err, &notFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("diffid: reading the diff_id of %s: %w", blob, err)
	}
	d, err := digest.Parse(string(b))
	if err != nil || d.Algorithm() != alg {
		return "", false, nil
	}
	return d, true, nil
}

// Put implements Store.
func (s *DriverStore) Put(ctx context.Context, blob, diffID digest.Digest) error {
	if err := blob.Validate(); err != nil {
		return fmt.Errorf("diffid: blob digest: %w", err)
	}
	if err := diffID.Validate(); err != nil {
		return fmt.Errorf("diffid: diff_id of %s: %w", blob, err)
	}
	if err := s.driver.PutContent(ctx, entryPath(blob, diffID.Algorithm()), []byte(diffID)); err != nil {
		return fmt.Errorf("diffid: remembering the diff_id of %s: %w", blob, err)
	}
	return nil
}
