package registry

import (
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/validate"
)

// newDiffIDs is the registry's one diff_id resolver: what the gate
// verified or the tarball door computed is remembered in driver.
func newDiffIDs(c config.Validation, driver storagedriver.StorageDriver) *diffid.Resolver {
	return diffid.NewResolver(diffid.NewDriverStore(driver),
		diffid.Limits{MaxBytes: c.MaxUncompressedLayerBytes, MaxRatio: c.MaxLayerRatio}, 0)
}

// newValidator builds the gate's validator from its configuration.
func newValidator(c config.Validation, diffIDs *diffid.Resolver) (*validate.Validator, error) {
	opts := validate.Options{
		Limits: validate.Limits{
			MaxLayers:     c.MaxLayers,
			MaxLayerBytes: c.MaxLayerBytes,
			MaxImageBytes: c.MaxImageBytes,

			MaxIndexManifests: c.MaxIndexManifests,
		},
		AllowArtifacts:       c.Artifacts,
		AllowForeignLayers:   c.ForeignLayers,
		ExtraLayerMediaTypes: c.LayerMediaTypes,
		DiffIDs:              diffIDs,
	}
	if !c.VerifyDiffIDs {
		opts.DiffIDs = nil
	}
	for _, r := range c.Lint {
		opts.Lint = append(opts.Lint, validate.LintRule{Repositories: r.Repositories, Labels: r.Labels, Annotations: r.Annotations})
	}
	return validate.New(opts)
}
