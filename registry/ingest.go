package registry

import (
	"log/slog"

	"github.com/distribution/distribution/v3/configuration"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/ingest"
)

// ingestMiddleware returns the repository middleware that stores upload
// bodies with imagegate's parallel copy (ingest/), to be listed first (the
// innermost), or none: it is on for the filesystem driver unless
// storage.filesystem.ingest is distribution. Other drivers keep
// distribution's copy until it is measured on them (docs/performance.md).
func ingestMiddleware(cfg *config.Config, driver storagedriver.StorageDriver, logger *slog.Logger) []configuration.Middleware {
	if cfg.Storage.Driver != "filesystem" || cfg.Storage.Filesystem.Ingest == config.FilesystemWriterDistribution {
		return nil
	}
	return []configuration.Middleware{ingest.New(driver, logger.With("component", "ingest")).Middleware()}
}
