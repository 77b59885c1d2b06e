package registry

import (
	"context"
	"fmt"

	"github.com/distribution/distribution/v3/configuration"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"

	"github.com/imagegate/imagegate/config"
	// imagegate's filesystem driver, registered as config.FilesystemDriverImagegate.
	_ "github.com/imagegate/imagegate/storagedriver/fs"
)

// newStorageDriver creates the configured storage driver: the one
// distribution's App creates from the same configuration (config.Distribution),
// so both write the same way. The filesystem driver is imagegate's
// (storagedriver/fs: distribution's layout and reads, a faster write path)
// unless storage.filesystem.writer is distribution.
func newStorageDriver(ctx context.Context, cfg *config.Config) (storagedriver.StorageDriver, error) {
	driver, err := factory.Create(ctx, cfg.StorageDriverName(), cfg.StorageParameters())
	if err != nil {
		return nil, fmt.Errorf("registry: creating %s storage driver: %w", cfg.Storage.Driver, err)
	}
	return driver, nil
}

// WithStorageMiddleware wraps the storage driver distribution's App reads
// and writes blobs with (the /v2/ API's, the gate's reads of layers) in
// distribution storage middlewares (registered with
// storagemiddleware.Register), in order. imagegate's own components
// (ingest's body copy, the stores of diff_ids and layer indexes) use the
// unwrapped driver. Tests observe the App's reads with one.
func WithStorageMiddleware(m ...configuration.Middleware) Option {
	return func(o *options) { o.storageMiddleware = append(o.storageMiddleware, m...) }
}
