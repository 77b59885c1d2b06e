package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/validate"
)

// Rescanner scans stored manifests again with the current vulnerability
// DB, under the repository's policy, without recording anything.
type Rescanner struct {
	p *Pipeline
}

// Rescanner returns a rescanner reading manifests and blobs from the
// pipeline's namespace, deciding with its scan stage's policies.
func (p *Pipeline) Rescanner() *Rescanner { return &Rescanner{p: p} }

// maxRescanConfig bounds the image config read for a rescan.
const maxRescanConfig = 8 << 20

// Rescan scans manifest d of repo. An unknown manifest, an index or an
// artifact is answered with an OCI error.
func (rs *Rescanner) Rescan(ctx context.Context, repo string, d digest.Digest) (*metadata.ScanSummary, error) {
	p := rs.p
	if p.opts.Scanning.Scanner == nil {
		return nil, errcode.ErrorCodeUnavailable.WithMessage("this server has no scanner")
	}
	named, err := reference.WithName(repo)
	if err != nil {
		return nil, errcode.ErrorCodeNameInvalid.WithDetail(err.Error())
	}
	r, err := p.opts.Namespace.Repository(ctx, named)
	if err != nil {
		return nil, fmt.Errorf("opening repository %s: %w", repo, err)
	}
	ms, err := r.Manifests(ctx)
	if err != nil {
		return nil, err
	}
	m, err := ms.Get(ctx, d)
	var unknown distribution.ErrManifestUnknownRevision
	if errors.As(err, &unknown) {
		return nil, errcode.ErrorCodeManifestUnknown.WithDetail(map[string]string{"repository": repo, "digest": d.String()})
	}
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", d, err)
	}
	mediaType, payload, err := m.Payload()
	if err != nil {
		return nil, err
	}
	var shape validate.Shape
	if err := json.Unmarshal(payload, &shape); err != nil || shape.Config == nil {
		return nil, errcode.ErrorCodeUnsupported.WithMessage("only image manifests can be scanned: scan each platform manifest of an index")
	}
	if !validate.IsImageConfig(shape.Config.MediaType) {
		return nil, errcode.ErrorCodeUnsupported.WithMessage(fmt.Sprintf("only images can be scanned; this manifest's config is %q", shape.Config.MediaType))
	}
	for _, l := range shape.Layers {
		if validate.IsForeignLayer(l.MediaType) {
			return nil, errcode.ErrorCodeUnsupported.WithMessage(fmt.Sprintf("layer %s is non-distributable: its bytes are not in this registry, so it cannot be scanned", l.Digest))
		}
	}
	blobs := r.Blobs(ctx)
	rc, err := blobs.Open(ctx, shape.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("opening config %s: %w", shape.Config.Digest, err)
	}
	config, err := io.ReadAll(io.LimitReader(rc, maxRescanConfig))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", shape.Config.Digest, err)
	}
	// A manifest stored before diff_ids were verified may claim another
	// layer's diff_id; scanning it would file its analysis under that key.
	var img v1.Image
	if err := json.Unmarshal(config, &img); err != nil {
		return nil, errcode.ErrorCodeManifestInvalid.WithMessage("the image config is not valid JSON")
	}
	if err := p.opts.Validator.VerifyDiffIDs(ctx, shape.Layers, img.RootFS.DiffIDs, blobs); err != nil {
		return nil, err
	}
	rule := p.opts.Scanning.Policies.For(repo)
	report, verdict, err := p.scanImage(ctx, rule, imageTarget(repo, d, mediaType, payload, config, shape.Layers, blobs))
	if err != nil {
		return nil, err
	}
	summary := summarize(report, rule, verdict)
	p.rescanned(ctx, RequesterFrom(ctx), repo, d, mediaType, summary)
	return summary, nil
}
