package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/logs"
)

// withoutUploadPurging turns distribution's own upload purger off: it
// would run in every replica over the shared storage. The server runs
// purgeUploads instead, on one replica at a time (Server.background).
func withoutUploadPurging(dcfg *configuration.Configuration) {
	if p, ok := dcfg.Storage["maintenance"]["uploadpurging"].(map[any]any); ok {
		p["enabled"] = false
	}
}

// repositoriesRoot is where distribution keeps repositories (and their
// uploads) in the storage driver.
const repositoriesRoot = "/docker/registry/v2/repositories"

// purgeUploads removes the blob uploads abandoned for longer than
// storage.uploadpurging.age (distribution's storage.PurgeUploads), or only
// lists them with dryrun.
func purgeUploads(driver storagedriver.StorageDriver, p config.UploadPurging, logger *slog.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		var missing storagedriver.PathNotFoundError
		if _, err := driver.Stat(ctx, repositoriesRoot); errors.As(err, &missing) {
			return nil // nothing was pushed yet: no uploads (distribution would count the missing root as an error)
		}
		deleted, errs := storage.PurgeUploads(ctx, driver, time.Now().Add(-p.Age), !p.DryRun)
		logger.InfoContext(ctx, "abandoned uploads purged", "uploads", len(deleted), "dryrun", p.DryRun,
			logs.Ms("age_ms", p.Age), "errors", len(errs))
		if len(errs) > 0 {
			return fmt.Errorf("registry: purging uploads: %w", errors.Join(errs...))
		}
		return nil
	}
}
