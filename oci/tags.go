package oci

import (
	"context"
	"fmt"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// pointTags makes tags of repo, just set by pushes through the gate to the
// canonical digest of a manifest, name it by alias, the digest the client
// pushed it as — so that pulls by tag answer with the client's digest.
// Distribution resolves the alias through the manifest link.
func (h *Handler) pointTags(ctx context.Context, repo string, tags []string, desc v1.Descriptor) error {
	if h.opts.Namespace == nil || len(tags) == 0 {
		return nil
	}
	ts, err := h.tagService(ctx, repo)
	if err != nil {
		return err
	}
	for _, t := range tags {
		if err := ts.Tag(ctx, t, desc); err != nil {
			return fmt.Errorf("oci: tagging %s:%s as %s: %w", repo, t, desc.Digest, err)
		}
	}
	return nil
}

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
