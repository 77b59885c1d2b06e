package registry

import (
	"context"
	"fmt"
	"regexp"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/config"
)

// openNamespace opens the registry's storage through distribution's Go
// storage API with the options distribution's App applies under our
// configuration (config.Distribution): foreign layer URLs only when
// allowed, an index only over manifests the repository holds, deletion as
// configured. The push pipeline, the upload shim, rescans and OCI mounts
// share it. Deletion is always on here: a failed commit or upload deletes
// what it created (distribution's handlers keep storage.delete).
func openNamespace(ctx context.Context, cfg *config.Config, driver storagedriver.StorageDriver) (distribution.Namespace, error) {
	urls := "^$"
	if cfg.Validation.ForeignLayers {
		urls = config.ForeignLayerURLs
	}
	ns, err := storage.NewRegistry(ctx, driver, storage.EnableDelete,
		storage.ManifestURLsAllowRegexp(regexp.MustCompile(urls)), storage.EnableValidateImageIndexImagesExist)
	if err != nil {
		return nil, fmt.Errorf("registry: opening storage: %w", err)
	}
	return ns, nil
}
