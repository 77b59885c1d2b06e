package registry

import (
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/validate"
)

// newValidator builds the gate's validator from its configuration.
func newValidator(c config.Validation) (*validate.Validator, error) {
	opts := validate.Options{
		Limits: validate.Limits{
			MaxLayers:     c.MaxLayers,
			MaxLayerBytes: c.MaxLayerBytes,
			MaxImageBytes: c.MaxImageBytes,
		},
		AllowArtifacts:       c.Artifacts,
		AllowForeignLayers:   c.ForeignLayers,
		ExtraLayerMediaTypes: c.LayerMediaTypes,
	}
	for _, r := range c.Lint {
		opts.Lint = append(opts.Lint, validate.LintRule{Repositories: r.Repositories, Labels: r.Labels, Annotations: r.Annotations})
	}
	return validate.New(opts)
}
