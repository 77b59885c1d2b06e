package middleware

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/distribution/distribution/v3"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
)

// manifestShape is what every accepted manifest format shares: Docker
// schema2 manifests and lists, OCI manifests and indexes.
type manifestShape struct {
	MediaType    string          `json:"mediaType"`
	ArtifactType string          `json:"artifactType"`
	Config       *v1.Descriptor  `json:"config"`
	Layers       []v1.Descriptor `json:"layers"`
	Manifests    []v1.Descriptor `json:"manifests"`
	Subject      *v1.Descriptor  `json:"subject"`
}

// maxConfigBytes bounds how much of an image config is read to learn its
// platform.
const maxConfigBytes = 1 << 20

// describe builds the push record of manifest m for repo (everything but
// the status): digest, media type, sizes, layers, platforms, tags, storage
// location, requester.
func (g *Gate) describe(ctx context.Context, repo *repository, m distribution.Manifest, tags []string) (*metadata.Record, error) {
	mediaType, payload, err := m.Payload()
	if err != nil {
		return nil, fmt.Errorf("reading manifest payload: %w", err)
	}
	var shape manifestShape
	if err := json.Unmarshal(payload, &shape); err != nil {
		return nil, fmt.Errorf("decoding manifest: %w", err)
	}
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
	blobs := make([]digest.Digest, 0, len(shape.Layers)+1)
	if c := shape.Config; c != nil {
		r.Config = &metadata.Blob{Digest: c.Digest, Size: c.Size, MediaType: c.MediaType}
		r.Size += c.Size
		blobs = append(blobs, c.Digest)
		if p, ok := g.configPlatform(ctx, repo, *c); ok {
			r.Platforms = []metadata.Platform{p}
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
	requester(ctx, r)
	return r, nil
}

// imageConfigTypes are the config media types that describe a runnable image.
var imageConfigTypes = map[string]bool{
	v1.MediaTypeImageConfig:                          true,
	"application/vnd.docker.container.image.v1+json": true,
}

// configPlatform reads an image config blob for its os/architecture.
// Artifacts (other config types), missing or oversized configs give ok=false;
// validation, not description, decides whether that is acceptable.
func (g *Gate) configPlatform(ctx context.Context, repo *repository, c v1.Descriptor) (metadata.Platform, bool) {
	if !imageConfigTypes[c.MediaType] || c.Size > maxConfigBytes {
		return metadata.Platform{}, false
	}
	rc, err := repo.Blobs(ctx).Open(ctx, c.Digest)
	if err != nil {
		return metadata.Platform{}, false
	}
	defer rc.Close()
	var cfg struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	}
	if err := json.NewDecoder(io.LimitReader(rc, maxConfigBytes)).Decode(&cfg); err != nil || cfg.OS == "" {
		return metadata.Platform{}, false
	}
	return metadata.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}, true
}
