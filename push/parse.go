package push

import (
	"context"
	"fmt"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/validate"
)

// repository opens name in the storage namespace.
func (p *Pipeline) repository(ctx context.Context, name string) (distribution.Repository, error) {
	named, err := reference.WithName(name)
	if err != nil {
		return nil, errcode.ErrorCodeNameInvalid.WithDetail(map[string]string{"name": name, "reason": err.Error()})
	}
	repo, err := p.opts.Namespace.Repository(ctx, named)
	if err != nil {
		return nil, fmt.Errorf("push: opening repository %s: %w", name, err)
	}
	return repo, nil
}

// parse decodes the payload once, as distribution will store it, and
// takes its canonical digest.
func (p *Pipeline) parse(x *Push) error {
	x.canonical = digest.FromBytes(x.Payload)
	man, _, err := distribution.UnmarshalManifest(x.MediaType, x.Payload)
	if err != nil {
		return errcode.ErrorCodeManifestInvalid.WithMessage("the manifest does not parse as " + mediaTypeName(x.MediaType)).
			WithDetail(map[string]string{"reason": err.Error()})
	}
	x.manifest = man
	if mt, _, err := man.Payload(); err == nil && mt != "" {
		x.MediaType = mt
	}
	return nil
}

func mediaTypeName(mt string) string {
	if mt == "" {
		return "any known manifest type (no Content-Type)"
	}
	return fmt.Sprintf("%q", mt)
}

// validate checks the manifest against the repository's blobs and
// manifests — and, for an index of an upload, the manifests gated before
// it in the same batch.
func (p *Pipeline) validate(ctx context.Context, x *Push, batch []*Push) (*validate.Result, error) {
	ms, err := x.repo.Manifests(ctx)
	if err != nil {
		return nil, fmt.Errorf("push: manifests of %s: %w", x.Repository, err)
	}
	return p.opts.Validator.Validate(ctx,
		validate.Manifest{Repository: x.Repository, MediaType: x.MediaType, Payload: x.Payload, KeepConfig: p.willScan(x.Repository)},
		x.repo.Blobs(ctx), withBatch{Manifests: ms, batch: batch, repo: x.Repository})
}

// withBatch answers Exists for a repository's stored manifests and for
// those gated earlier in the same batch.
type withBatch struct {
	validate.Manifests
	batch []*Push
	repo  string
}

func (w withBatch) Exists(ctx context.Context, d digest.Digest) (bool, error) {
	if inBatch(w.batch, w.repo, d) != nil {
		return true, nil
	}
	return w.Manifests.Exists(ctx, d)
}

// inBatch is the push of manifest d to repo among batch, or nil.
func inBatch(batch []*Push, repo string, d digest.Digest) *Push {
	for _, b := range batch {
		if b.Repository == repo && (b.canonical == d || b.Digest == d) {
			return b
		}
	}
	return nil
}
