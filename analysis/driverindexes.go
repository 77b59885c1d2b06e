package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/klauspost/compress/gzip"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/layers"
)

// indexRoot is where DriverIndexes keeps its entries, registry-wide and
// outside distribution's tree (like diffid's /imagegate/diffids).
const indexRoot = "/imagegate/layerindex"

// maxIndexBytes bounds an index read back, compressed and not.
const (
	maxIndexBytes      = 256 << 20
	maxIndexPlainBytes = 1 << 30
)

// DriverIndexes keeps layer indexes in the registry's storage driver: one
// gzip-compressed JSON object per layer blob, shared by every replica.
type DriverIndexes struct {
	driver storagedriver.StorageDriver
}

// NewDriverIndexes returns the Indexes kept in driver.
func NewDriverIndexes(driver storagedriver.StorageDriver) *DriverIndexes {
	return &DriverIndexes{driver: driver}
}

var _ Indexes = (*DriverIndexes)(nil)

func indexPath(blob digest.Digest) string {
	return path.Join(indexRoot, blob.Algorithm().String(), blob.Encoded(), "index.json.gz")
}

// Get implements Indexes. An entry that does not decode is treated as
// absent (the layer is read and indexed again, and it is overwritten).
func (s *DriverIndexes) Get(ctx context.Context, blob digest.Digest) (*layers.LayerIndex, bool, error) {
	if err := blob.Validate(); err != nil {
		return nil, false, fmt.Errorf("analysis: blob digest: %w", err)
	}
	rc, err := s.driver.Reader(ctx, indexPath(blob), 0)
	if errors.As(err, new(storagedriver.PathNotFoundError)) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("analysis: reading the index of %s: %w", blob, err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(io.LimitReader(rc, maxIndexBytes))
	if err != nil {
		return nil, false, nil
	}
	var idx layers.LayerIndex
	if err := json.NewDecoder(io.LimitReader(zr, maxIndexPlainBytes)).Decode(&idx); err != nil {
		return nil, false, nil
	}
	return &idx, true, nil
}

// Put implements Indexes.
func (s *DriverIndexes) Put(ctx context.Context, blob digest.Digest, idx *layers.LayerIndex) error {
	if err := blob.Validate(); err != nil {
		return fmt.Errorf("analysis: blob digest: %w", err)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err := json.NewEncoder(zw).Encode(idx); err != nil {
		return fmt.Errorf("analysis: encoding the index of %s: %w", blob, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("analysis: encoding the index of %s: %w", blob, err)
	}
	if err := s.driver.PutContent(ctx, indexPath(blob), buf.Bytes()); err != nil {
		return fmt.Errorf("analysis: keeping the index of %s: %w", blob, err)
	}
	return nil
}
