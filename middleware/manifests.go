package middleware

import (
	"context"
	"errors"

	"github.com/distribution/distribution/v3"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
)

// manifestService is the gate on one repository's manifests.
type manifestService struct {
	distribution.ManifestService
	repo *repository
}

// Put records the push as pending, stores the manifest, and finishes the
// record — or, when a tag follows, leaves it for Tag to finish. When the
// record cannot be written (fail-closed), nothing is stored.
func (m *manifestService) Put(ctx context.Context, man distribution.Manifest, options ...distribution.ManifestServiceOption) (digest.Digest, error) {
	g := m.repo.gate
	var tags []string
	for _, o := range options {
		if t, ok := o.(distribution.WithTagOption); ok {
			tags = append(tags, t.Tag)
		}
	}
	rec, err := g.describe(ctx, m.repo, man, tags)
	if err != nil {
		return "", err
	}
	rec.TagMoves = m.repo.tagMoves(ctx, tags, rec.Digest)

	rec.Status = metadata.StatusPending
	if err := g.recorder.Put(ctx, rec); err != nil {
		return "", errNotRecorded("push", err)
	}
	dgst, err := m.ManifestService.Put(ctx, man, options...)
	if err != nil {
		g.finish(ctx, rec, metadata.StatusFailed, err.Error())
		return dgst, err
	}
	if len(tags) == 0 {
		g.finish(ctx, rec, metadata.StatusAccepted, "")
	} else {
		m.repo.taggedPush = rec
	}
	return dgst, nil
}

// Delete records the deletion of manifest dgst, with the tags that pointed
// at it, around the deletion itself.
func (m *manifestService) Delete(ctx context.Context, dgst digest.Digest) error {
	g := m.repo.gate
	rec := g.deletion(ctx, m.repo, metadata.KindDeleteManifest, dgst)
	if tags, err := m.repo.Repository.Tags(ctx).Lookup(ctx, v1.Descriptor{Digest: dgst}); err == nil {
		rec.Tags = tags
	}
	if err := g.recorder.Put(ctx, rec); err != nil {
		return errNotRecorded("delete", err)
	}
	m.repo.deleting = dgst
	err := m.ManifestService.Delete(ctx, dgst)
	if err != nil {
		g.finish(ctx, rec, metadata.StatusFailed, err.Error())
		return err
	}
	g.finish(ctx, rec, metadata.StatusAccepted, "")
	return nil
}

// deletion is a pending record of a deletion of kind in repo.
func (g *Gate) deletion(ctx context.Context, repo *repository, kind metadata.Kind, dgst digest.Digest) *metadata.Record {
	rec := &metadata.Record{
		ID: metadata.NewID(), Kind: kind, Repository: repo.Named().Name(), Digest: dgst,
		ReceivedAt: g.now(), Status: metadata.StatusPending,
	}
	if dgst != "" {
		rec.Storage = g.locator.Locate(dgst, nil)
	}
	requester(ctx, rec)
	return rec
}

// finish records the outcome of rec's action. The action has happened, so
// a failure here is logged, never returned: the recorder queues it.
func (g *Gate) finish(ctx context.Context, rec *metadata.Record, status metadata.Status, reason string) {
	err := g.recorder.Finish(ctx, rec.ID, metadata.Finish{Status: status, Reason: reason, CommittedAt: g.now()})
	if err != nil {
		g.logger.ErrorContext(ctx, "recording outcome failed", "record_id", rec.ID,
			"status", string(status), "error", err.Error())
	}
}

// tagMoves lists the tags that point at another manifest than dgst now.
func (r *repository) tagMoves(ctx context.Context, tags []string, dgst digest.Digest) []metadata.TagMove {
	var moves []metadata.TagMove
	ts := r.Repository.Tags(ctx)
	for _, t := range tags {
		desc, err := ts.Get(ctx, t)
		var unknown distribution.ErrTagUnknown
		if errors.As(err, &unknown) || err != nil {
			continue
		}
		if desc.Digest != dgst {
			moves = append(moves, metadata.TagMove{Tag: t, From: desc.Digest})
		}
	}
	return moves
}
