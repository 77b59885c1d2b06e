package middleware

import (
	"context"
	"errors"
	"fmt"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/validate"
)

// manifestService is the gate on one repository's manifests.
type manifestService struct {
	distribution.ManifestService
	repo *repository
}

// Put runs the gate: it validates the manifest, scans an image (under its
// repository's policy), checks an index's children passed, records a
// refusal as rejected, or records the push as pending, stores the manifest and
// finishes the record — or, when a tag follows, leaves it for Tag to
// finish. When the record cannot be written (fail-closed), nothing is stored.
func (m *manifestService) Put(ctx context.Context, man distribution.Manifest, options ...distribution.ManifestServiceOption) (digest.Digest, error) {
	g := m.repo.gate
	var tags []string
	for _, o := range options {
		if t, ok := o.(distribution.WithTagOption); ok {
			tags = append(tags, t.Tag)
		}
	}
	mediaType, payload, err := man.Payload()
	if err != nil {
		return "", fmt.Errorf("gate: reading manifest payload: %w", err)
	}
	observerOf(ctx).Stage(StageValidating)
	res, verr := g.validator.Validate(ctx,
		validate.Manifest{Repository: m.repo.Named().Name(), MediaType: mediaType, Payload: payload},
		m.repo.Blobs(ctx), m.ManifestService)
	var config *v1.Image
	if res != nil {
		config = res.Config
	}
	rec := g.describe(ctx, m.repo, mediaType, payload, tags, config)
	if verr == nil {
		observerOf(ctx).Stage(StageScanning)
		verr = g.scanStage(ctx, m.repo, rec, res, payload)
		g.scanned(ctx, rec)
	}
	if verr == nil {
		verr = g.indexStage(ctx, rec, res, m.ManifestService)
	}
	if verr != nil {
		if refusal, ok := asRefusal(verr); ok {
			g.reject(ctx, rec, refusal.Message)
			observerOf(ctx).Recorded(*rec)
		}
		return "", verr
	}
	rec.TagMoves = m.repo.tagMoves(ctx, tags, rec.Digest)

	rec.Status = metadata.StatusPending
	if err := g.recorder.Put(ctx, rec); err != nil {
		return "", errNotRecorded("push", err)
	}
	observerOf(ctx).Recorded(*rec)
	observerOf(ctx).Stage(StageStoring)
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

// reject records rec as refused by the gate. The refusal stands whether or
// not the record can be written; a failure to write it is logged.
func (g *Gate) reject(ctx context.Context, rec *metadata.Record, reason string) {
	rec.Status, rec.Reason, rec.Archive = metadata.StatusRejected, reason, nil
	if err := g.recorder.Put(ctx, rec); err != nil {
		g.logger.ErrorContext(ctx, "recording a rejected push failed", "record_id", rec.ID, "error", err.Error())
	}
	g.logger.InfoContext(ctx, "push rejected", "repository", rec.Repository, "digest", rec.Digest.String(),
		"reason", reason, "record_id", rec.ID)
	g.rejected(ctx, rec)
}

// asRefusal reports whether err is the gate's verdict on the content (an
// OCI error a client can act on) rather than a failure to reach storage.
func asRefusal(err error) (errcode.Error, bool) {
	var e errcode.Error
	if errors.As(err, &e) {
		return e, true
	}
	return e, false
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
	f := metadata.Finish{Status: status, Reason: reason, CommittedAt: g.now()}
	err := g.recorder.Finish(ctx, rec.ID, f)
	if err != nil {
		g.logger.ErrorContext(ctx, "recording outcome failed", "record_id", rec.ID,
			"status", string(status), "error", err.Error())
	}
	g.published(ctx, rec, f)
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
