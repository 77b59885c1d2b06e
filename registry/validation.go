package registry

import (
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/validate"
)

// newValidator builds the gate's validator from its configuration; the
// diff_ids it verifies are remembered in driver (package diffid).
func newValidator(c config.Validation, driver storagedriver.StorageDriver) (*validate.Validator, error) {
	opts := validate.Options{
		Limits: validate.Limits{
			MaxLayers:     c.MaxLayers,
			MaxLayerBytes: c.MaxLayerBytes,
			MaxImageBytes: c.MaxImageBytes,
		},
		AllowArtifacts:       c.Artifacts,
		AllowForeignLayers:   c.ForeignLayers,
		ExtraLayerMediaTypes: c.LayerMediaTypes,
		DiffIDs: diffid.NewResolver(diffid.NewDriverStore(driver),
			diffid.Limits{MaxBytes: c.MaxUncompressedLayerBytes, MaxRatio: c.MaxLayerRatio}, 0),
	}
	for _, r := range c.Lint {
		opts.Lint = append(opts.Lint, validate.LintRule{Repositories: r.Repositories, Labels: r.Labels, Annotations: r.Annotations})
	}
	return validate.New(opts)
}
