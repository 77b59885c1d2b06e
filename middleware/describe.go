package middleware

import (
	"context"
	"encoding/json"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/validate"
)

// describe builds the push record of a manifest for repo (everything but
// the status): digest, media type, sizes, layers, platforms, tags, storage
// location, requester. A payload that does not decode gives a record with
// what is known (its digest and media type), for the audit of its refusal.
func (g *Gate) describe(ctx context.Context, repo *repository, mediaType string, payload []byte, tags []string, config *v1.Image) *metadata.Record {
	var shape validate.Shape
	_ = json.Unmarshal(payload, &shape)
	r := &metadata.Record{
		ID:           metadata.NewID(),
		Kind:         metadata.KindPush,
		Repository:   repo.Named().Name(),
		Tags:         tags,
		Digest:       digest.FromBytes(payload),
		MediaType:    mediaType,
		ArtifactType: shape.ArtifactType,
		Size:         int64(len(payload)),
		ReceivedAt:   g.now(),
		Source:       metadata.SourceDockerPush,
	}
	if repo.source != "" {
		r.Source = repo.source
	}
	blobs := make([]digest.Digest, 0, len(shape.Layers)+1)
	if c := shape.Config; c != nil {
		r.Config = &metadata.Blob{Digest: c.Digest, Size: c.Size, MediaType: c.MediaType}
		r.Size += c.Size
		blobs = append(blobs, c.Digest)
		if config != nil {
			r.Platforms = []metadata.Platform{{OS: config.OS, Architecture: config.Architecture, Variant: config.Variant}}
		}
	}
	for _, l := range shape.Layers {
		r.Layers = append(r.Layers, metadata.Blob{Digest: l.Digest, Size: l.Size, MediaType: l.MediaType})
		r.Size += l.Size
		blobs = append(blobs, l.Digest)
	}
	r.LayerCount = len(r.Layers)
	for _, c := range shape.Manifests {
		r.Manifests = append(r.Manifests, metadata.Blob{Digest: c.Digest, Size: c.Size, MediaType: c.MediaType})
		r.Size += c.Size
		if p := c.Platform; p != nil {
			r.Platforms = append(r.Platforms, metadata.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant})
		}
	}
	r.Storage = g.locator.Locate(r.Digest, blobs)
	r.Archive = archiveOf(ctx, g.locator)
	requester(ctx, r)
	return r
}
