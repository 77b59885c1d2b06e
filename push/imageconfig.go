package push

import (
	"context"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/internal/imageconfig"
)

// ImageConfig reads what stored image d of repo's config says, for the
// API and the web UI's image page: read as a stream and bounded
// (imageconfig.Read), whatever the pusher put in it. An unknown manifest,
// an index or an artifact is answered with an OCI error, as by
// LayerReport; a config that is not valid JSON with MANIFEST_INVALID.
func (p *Pipeline) ImageConfig(ctx context.Context, repo string, d digest.Digest) (*imageconfig.Summary, error) {
	img, err := p.loadManifest(ctx, repo, d, "inspected")
	if err != nil {
		return nil, err
	}
	var s *imageconfig.Summary
	err = img.readConfig(ctx, func(r io.Reader) error {
		var err error
		s, err = imageconfig.Read(r)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.Blob = img.shape.Config.Digest
	return s, nil
}
