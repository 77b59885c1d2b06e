package middleware

import (
	"context"

	"github.com/distribution/distribution/v3"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/oci"
)

// checkImmutable applies the immutability rules to deleting manifest
// dgst, which tags name, and to the tags naming its sha512 alias (the
// digest of the same bytes a client may have pushed it by): the
// overrides to record, or the refusal.
func (m *manifestService) checkImmutable(ctx context.Context, ts distribution.TagService, tags []string, dgst digest.Digest) ([]string, error) {
	g, repo := m.repo.guard, m.repo.Named().Name()
	if !g.opts.Immutable.Enabled() {
		return nil, nil
	}
	notes, err := g.checkDeletion(ctx, repo, tags, dgst)
	if err != nil {
		return nil, err
	}
	stored, err := m.ManifestService.Get(ctx, dgst)
	if err != nil {
		return notes, nil // nothing stored to delete: distribution answers
	}
	_, payload, err := stored.Payload()
	if err != nil {
		return nil, err
	}
	alias := digest.SHA512.FromBytes(payload)
	aliasTags, err := ts.Lookup(ctx, v1.Descriptor{Digest: alias})
	if err != nil {
		return nil, err
	}
	more, err := g.checkDeletion(ctx, repo, aliasTags, alias)
	return append(notes, more...), err
}

// manifestService is the guard on one repository's manifests.
type manifestService struct {
	distribution.ManifestService
	repo *repository
}

// Put refuses: every manifest is stored by the push pipeline. Reaching
// here means a route let a PUT through to distribution's handler.
func (m *manifestService) Put(ctx context.Context, _ distribution.Manifest, _ ...distribution.ManifestServiceOption) (digest.Digest, error) {
	m.repo.guard.opts.Logger.ErrorContext(ctx, "a manifest PUT reached distribution's handler; refused (it must go through the push pipeline)",
		"repository", m.repo.Named().Name())
	return "", errBypass
}

// Delete records the deletion of manifest dgst, with the tags that pointed
// at it, around the deletion itself. Deleting it deletes those tags, so a
// manifest named by an immutable tag is refused unless an administrator
// overrides (lifecycle.OverrideHeader) — whether the tag names its
// canonical digest or its sha512 alias, and whichever of the two the
// request addressed it by.
func (m *manifestService) Delete(ctx context.Context, dgst digest.Digest) error {
	g := m.repo.guard
	repo := m.repo.Named().Name()
	rec := g.deletion(ctx, repo, metadata.KindDeleteManifest, dgst)
	ts := m.repo.Repository.Tags(ctx)
	if tags, err := ts.Lookup(ctx, v1.Descriptor{Digest: dgst}); err == nil {
		rec.Tags = tags
	}
	notes, err := m.checkImmutable(ctx, ts, rec.Tags, dgst)
	if err != nil {
		return oci.Refuse(ctx, err)
	}
	rec.Overrides = notes
	release, err := m.fence(ctx, dgst)
	if err != nil {
		return oci.Refuse(ctx, err)
	}
	defer release()
	if err := g.opts.Recorder.Put(ctx, rec); err != nil {
		return oci.Refuse(ctx, errNotRecorded("delete", err))
	}
	m.repo.deleting = dgst
	err = m.ManifestService.Delete(ctx, dgst)
	if err != nil {
		g.finish(ctx, rec, metadata.StatusFailed, err.Error())
		return err
	}
	g.finish(ctx, rec, metadata.StatusAccepted, "")
	if refs := g.opts.GC.Refs; refs != nil {
		if err := refs.Delete(context.WithoutCancel(ctx), repo, dgst); err != nil {
			g.opts.Logger.ErrorContext(ctx, "removing the gc references of a deleted manifest failed; its blobs stay until corrected",
				"repository", repo, "digest", dgst.String(), "error", err.Error())
		}
	}
	if err := g.opts.Quotas.Discharge(context.WithoutCancel(ctx), repo, dgst); err != nil {
		g.opts.Logger.ErrorContext(ctx, "lowering the quota usage of a deleted manifest failed; usage stays higher until corrected",
			"repository", repo, "digest", dgst.String(), "error", err.Error())
	}
	return nil
}
