package registry

import (
	"context"
	"fmt"

	"github.com/distribution/distribution/v3/configuration"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"
	storagemiddleware "github.com/distribution/distribution/v3/registry/storage/driver/middleware"

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

// WithStorageMiddleware wraps the storage driver in distribution storage
// middlewares (registered with storagemiddleware.Register), in order: the
// driver distribution's App reads and writes blobs with, and imagegate's
// own (the gate's reads of layers at the manifest, ingest, the stores of
// diff_ids and layer indexes). Tests observe the reads with one. A
// wrapped driver is no longer a FileOpener: blobs are then served by
// distribution's path rather than sendfile.
func WithStorageMiddleware(m ...configuration.Middleware) Option {
	return func(o *options) { o.storageMiddleware = append(o.storageMiddleware, m...) }
}

// wrapStorageDriver applies the storage middlewares of WithStorageMiddleware.
func wrapStorageDriver(ctx context.Context, driver storagedriver.StorageDriver, m []configuration.Middleware) (storagedriver.StorageDriver, error) {
	for _, mw := range m {
		wrapped, err := storagemiddleware.Get(ctx, mw.Name, mw.Options, driver)
		if err != nil {
			return nil, fmt.Errorf("registry: storage middleware %s: %w", mw.Name, err)
		}
		driver = wrapped
	}
	return driver, nil
}
