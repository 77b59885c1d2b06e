package layers

import (
	"context"
	"errors"
	"fmt"
	"path"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// Store caches the index of a layer blob. A blob digest names one
// content forever, so an entry never changes: Put is idempotent and
// replicas writing the same entry at once agree.
type Store interface {
	// Get returns the index remembered for blob, false if none is.
	Get(ctx context.Context, blob digest.Digest) (*LayerIndex, bool, error)
	// Put remembers x for blob. Only an index read from the blob's own
	// bytes (Index) may be put.
	Put(ctx context.Context, blob digest.Digest, x *LayerIndex) error
}

// storeRoot is where DriverStore keeps its entries, registry-wide (a blob
// digest names the same bytes in every repository), outside
// distribution's tree: neither its catalog nor its garbage collector
// sees it.
const storeRoot = "/imagegate/layerindex"

// maxStored bounds the decompressed size of one stored index: 1,000,000
// entries (the default MaxEntries) of 4 KiB paths, front coded, stay far
// below it.
const maxStored = 256 << 20

// DriverStore is a Store in the registry's own storage driver: one object
// per layer blob (the binary form, zstd-compressed), on the filesystem or
// in the shared S3 bucket, so every replica sees what any replica
// indexed.
type DriverStore struct {
	driver storagedriver.StorageDriver
}

// NewDriverStore returns the Store kept in driver.
func NewDriverStore(driver storagedriver.StorageDriver) *DriverStore {
	return &DriverStore{driver: driver}
}

var _ Store = (*DriverStore)(nil)

// entryPath is the object holding the index of blob.
func entryPath(blob digest.Digest) string {
	return path.Join(storeRoot, blob.Algorithm().String(), blob.Encoded(), "v1")
}

// Get implements Store. An entry that does not decode is treated as
// absent (the layer is indexed again and the entry overwritten).
func (s *DriverStore) Get(ctx context.Context, blob digest.Digest) (*LayerIndex, bool, error) {
	if err := blob.Validate(); err != nil {
		return nil, false, fmt.Errorf("layers: blob digest: %w", err)
	}
	b, err := s.driver.GetContent(ctx, entryPath(blob))
	var notFound storagedriver.PathNotFoundError
	if errors.As(err, &notFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("layers: reading the index of %s: %w", blob, err)
	}
	x, err := decodeStored(b)
	if err != nil {
		return nil, false, nil
	}
	return x, true, nil
}

// Put implements Store.
func (s *DriverStore) Put(ctx context.Context, blob digest.Digest, x *LayerIndex) error {
	if err := blob.Validate(); err != nil {
		return fmt.Errorf("layers: blob digest: %w", err)
	}
	b, err := encodeStored(x)
	if err != nil {
		return fmt.Errorf("layers: encoding the index of %s: %w", blob, err)
	}
	if err := s.driver.PutContent(ctx, entryPath(blob), b); err != nil {
		return fmt.Errorf("layers: storing the index of %s: %w", blob, err)
	}
	return nil
}

// Zstd's stateless helpers (EncodeAll, DecodeAll) on shared coders, safe
// for concurrent use: each keeps GOMAXPROCS coders (its default).
var (
	zEncoder, _ = zstd.NewWriter(nil)
	zDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxStored))
)

// encodeStored is x's binary form, zstd-compressed.
func encodeStored(x *LayerIndex) ([]byte, error) {
	raw, err := x.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return zEncoder.EncodeAll(raw, nil), nil
}

// decodeStored reverses encodeStored, refusing more than maxStored bytes
// decompressed.
func decodeStored(b []byte) (*LayerIndex, error) {
	raw, err := zDecoder.DecodeAll(b, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	x := &LayerIndex{}
	if err := x.UnmarshalBinary(raw); err != nil {
		return nil, err
	}
	return x, nil
}
