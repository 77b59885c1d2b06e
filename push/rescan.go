package push

import (
	"context"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
)

// Rescanner scans stored manifests again with the current vulnerability
// DB, under the repository's policy, without recording anything.
type Rescanner struct {
	p *Pipeline
}

// Rescanner returns a rescanner reading manifests and blobs from the
// pipeline's namespace, deciding with its scan stage's policies.
func (p *Pipeline) Rescanner() *Rescanner { return &Rescanner{p: p} }

// Rescan scans manifest d of repo. An unknown manifest, an index or an
// artifact is answered with an OCI error.
func (rs *Rescanner) Rescan(ctx context.Context, repo string, d digest.Digest) (*metadata.ScanSummary, error) {
	p := rs.p
	if p.opts.Scanning.Scanner == nil {
		return nil, errcode.ErrorCodeUnavailable.WithMessage("this server has no scanner")
	}
	img, err := p.loadImage(ctx, repo, d, "scanned")
	if err != nil {
		return nil, err
	}
	// A manifest stored before diff_ids were verified may claim another
	// layer's diff_id; scanning it would file its analysis under that key.
	if err := p.opts.Validator.VerifyDiffIDs(ctx, img.shape.Layers, img.config.RootFS.DiffIDs, img.blobs); err != nil {
		return nil, err
	}
	rule := p.opts.Scanning.Policies.For(repo)
	report, verdict, err := p.scanImage(ctx, rule, imageTarget(repo, d, img.mediaType, img.payload, img.rawConfig, img.shape.Layers, img.blobs))
	if err != nil {
		return nil, err
	}
	summary := summarize(report, rule, verdict)
	p.rescanned(ctx, RequesterFrom(ctx), repo, d, img.mediaType, summary)
	return summary, nil
}
