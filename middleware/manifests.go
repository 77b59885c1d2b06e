package middleware

import (
	"context"

	"github.com/distribution/distribution/v3"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/oci"
)

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
// manifest named by an immutable tag (under its canonical digest or the
// sha512 digest the request addressed it by) is refused unless an
// administrator overrides (lifecycle.OverrideHeader).
func (m *manifestService) Delete(ctx context.Context, dgst digest.Digest) error {
	g := m.repo.guard
	repo := m.repo.Named().Name()
	rec := g.deletion(ctx, repo, metadata.KindDeleteManifest, dgst)
	ts := m.repo.Repository.Tags(ctx)
	if tags, err := ts.Lookup(ctx, v1.Descriptor{Digest: dgst}); err == nil {
		rec.Tags = tags
	}
	notes, err := g.checkDeletion(ctx, repo, rec.Tags, dgst)
	if err == nil {
		if alias, ok := oci.PushedDigest(ctx); ok && alias != dgst {
			var aliasTags []string
			if aliasTags, err = ts.Lookup(ctx, v1.Descriptor{Digest: alias}); err == nil {
				var more []string
				more, err = g.checkDeletion(ctx, repo, aliasTags, alias)
				notes = append(notes, more...)
			}
		}
	}
	if err != nil {
		return oci.Refuse(ctx, err)
	}
	rec.Overrides = notes
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
	if err := g.opts.Quotas.Discharge(context.WithoutCancel(ctx), repo, dgst); err != nil {
		g.opts.Logger.ErrorContext(ctx, "lowering the quota usage of a deleted manifest failed; usage stays higher until corrected",
			"repository", repo, "digest", dgst.String(), "error", err.Error())
	}
	return nil
}
