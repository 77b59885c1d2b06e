package push

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/analysis"
	"github.com/imagegate/imagegate/internal/imageconfig"
	"github.com/imagegate/imagegate/layers"
)

// LayerReport analyses stored image d of repo: its layers' indexes (kept
// since they were pushed, or read once more) merged with its config's
// history (each command cut to imageconfig.MaxCommand bytes). Nothing is
// recorded. An unknown manifest, an index or an artifact, and an image
// that cannot be analysed, are answered with an OCI error; a server
// without analysis with 503 UNAVAILABLE.
func (p *Pipeline) LayerReport(ctx context.Context, repo string, d digest.Digest) (*layers.Report, error) {
	a := p.opts.Analysis.Analyzer
	if a == nil {
		return nil, errcode.ErrorCodeUnavailable.WithMessage("layer analysis is off on this server (no analysis policy analyses)")
	}
	img, err := p.loadManifest(ctx, repo, d, "analysed")
	if err != nil {
		return nil, err
	}
	// Only the history is read of the config, as a stream, each command
	// cut (imageconfig.ReadHistory): the config may be 8 MiB of labels.
	var history []v1.History
	err = img.readConfig(ctx, func(r io.Reader) error {
		var err error
		history, err = imageconfig.ReadHistory(r, len(img.shape.Layers))
		return err
	})
	if err != nil {
		return nil, err
	}
	report, err := a.Report(ctx, analysis.Image{Layers: img.shape.Layers, History: history,
		Open: func(ctx context.Context, d digest.Digest) (io.ReadCloser, error) { return img.blobs.Open(ctx, d) }})
	var bad *analysis.UnanalysableError
	if errors.As(err, &bad) {
		return nil, errcode.ErrorCodeUnsupported.WithMessage(bad.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("push: analysing %s@%s: %w", repo, d, err)
	}
	return report, nil
}
