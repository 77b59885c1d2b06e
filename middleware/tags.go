package middleware

import (
	"context"

	"github.com/distribution/distribution/v3"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/internal/tagpage"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/oci"
	"github.com/imagegate/imagegate/push"
)

// tagService is the guard on one repository's tags.
type tagService struct {
	distribution.TagService
	repo *repository
}

// Tag refuses: tags move only in the push pipeline.
func (t *tagService) Tag(ctx context.Context, tag string, _ v1.Descriptor) error {
	t.repo.guard.opts.Logger.ErrorContext(ctx, "a tag write reached distribution's handler; refused (it must go through the push pipeline)",
		"repository", t.repo.Named().Name(), "tag", tag)
	return errBypass
}

// List answers a page of tags in lexical order on any storage driver
// (tagpage: distribution's own List skips tags on S3).
func (t *tagService) List(ctx context.Context, limit int, last string) ([]string, error) {
	return tagpage.List(ctx, t.TagService, limit, last)
}

// Untag removes tag, recording the removal — unless it is part of this
// request's manifest deletion, whose record already lists the tag (and
// whose immutability check covered it). It holds the tag's lock, so a
// removal and a push of the same tag do not interleave; an immutable tag
// is refused under that lock unless an administrator overrides.
func (t *tagService) Untag(ctx context.Context, tag string) error {
	if t.repo.deleting != "" {
		return t.TagService.Untag(ctx, tag)
	}
	g := t.repo.guard
	unlock, err := g.opts.Locks.Lock(ctx, []string{push.TagKey(t.repo.Named().Name(), tag)})
	if err != nil {
		return err
	}
	defer unlock()
	var target v1.Descriptor
	if desc, err := t.TagService.Get(ctx, tag); err == nil {
		target = desc
	}
	repo := t.repo.Named().Name()
	notes, err := g.checkDeletion(ctx, repo, []string{tag}, target.Digest)
	if err != nil {
		return oci.Refuse(ctx, err)
	}
	rec := g.deletion(ctx, repo, metadata.KindDeleteTag, target.Digest)
	rec.Tags, rec.Overrides = []string{tag}, notes
	if err := g.opts.Recorder.Put(ctx, rec); err != nil {
		return oci.Refuse(ctx, errNotRecorded("tag delete", err))
	}
	if err := t.TagService.Untag(ctx, tag); err != nil {
		g.finish(ctx, rec, metadata.StatusFailed, err.Error())
		return err
	}
	g.finish(ctx, rec, metadata.StatusAccepted, "")
	return nil
}
