package middleware

import (
	"context"
	"slices"

	"github.com/distribution/distribution/v3"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
)

// tagService is the gate on one repository's tags.
type tagService struct {
	distribution.TagService
	repo *repository
}

// Tag sets tag and, when it completes a manifest PUT of this request,
// finishes that push's record with the outcome.
func (t *tagService) Tag(ctx context.Context, tag string, desc v1.Descriptor) error {
	err := t.TagService.Tag(ctx, tag, desc)
	p := t.repo.taggedPush
	if p == nil || p.Digest != desc.Digest || !slices.Contains(p.Tags, tag) {
		return err
	}
	t.repo.taggedPush = nil
	if err != nil {
		t.repo.gate.finish(ctx, p, metadata.StatusFailed, "tagging failed: "+err.Error())
		return err
	}
	t.repo.gate.finish(ctx, p, metadata.StatusAccepted, "")
	return nil
}

// Untag removes tag, recording the removal — unless it is part of this
// request's manifest deletion, whose record already lists the tag.
func (t *tagService) Untag(ctx context.Context, tag string) error {
	if t.repo.deleting != "" {
		return t.TagService.Untag(ctx, tag)
	}
	g := t.repo.gate
	var target v1.Descriptor
	if desc, err := t.TagService.Get(ctx, tag); err == nil {
		target = desc
	}
	rec := g.deletion(ctx, t.repo, metadata.KindDeleteTag, target.Digest)
	rec.Tags = []string{tag}
	if err := g.recorder.Put(ctx, rec); err != nil {
		return errNotRecorded("tag delete", err)
	}
	if err := t.TagService.Untag(ctx, tag); err != nil {
		g.finish(ctx, rec, metadata.StatusFailed, err.Error())
		return err
	}
	g.finish(ctx, rec, metadata.StatusAccepted, "")
	return nil
}
