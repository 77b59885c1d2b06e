package oci

import (
	"context"
	"fmt"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// untagAlias removes the tags of repo that name alias, once the manifest
// it links to is deleted (distribution removed those naming the canonical
// digest).
func (h *Handler) untagAlias(ctx context.Context, repo string, alias digest.Digest) error {
	if h.opts.Namespace == nil {
		return nil
	}
	ts, err := h.tagService(ctx, repo)
	if err != nil {
		return err
	}
	tags, err := ts.Lookup(ctx, v1.Descriptor{Digest: alias})
	if err != nil {
		return fmt.Errorf("oci: tags of %s@%s: %w", repo, alias, err)
	}
	for _, t := range tags {
		if err := ts.Untag(ctx, t); err != nil {
			return fmt.Errorf("oci: untagging %s:%s: %w", repo, t, err)
		}
	}
	return nil
}

// tagService is the tag store of repo in Options.Namespace, which must
// not be nil.
func (h *Handler) tagService(ctx context.Context, repo string) (distribution.TagService, error) {
	named, err := reference.WithName(repo)
	if err != nil {
		return nil, fmt.Errorf("oci: repository %q: %w", repo, err)
	}
	r, err := h.opts.Namespace.Repository(ctx, named)
	if err != nil {
		return nil, fmt.Errorf("oci: opening %s: %w", repo, err)
	}
	return r.Tags(ctx), nil
}
