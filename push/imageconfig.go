package push

import (
	"context"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImageConfig reads stored image d of repo's config (at most 8 MiB), for
// the API and the web UI's image page. An unknown manifest, an index or
// an artifact is answered with an OCI error, as by LayerReport.
func (p *Pipeline) ImageConfig(ctx context.Context, repo string, d digest.Digest) (*v1.Image, error) {
	img, err := p.loadImage(ctx, repo, d, "inspected")
	if err != nil {
		return nil, err
	}
	return &img.config, nil
}
