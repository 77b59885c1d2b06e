package push

import (
	"encoding/json"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/validate"
)

// describe builds the push record of x (everything but the status):
// digest, media type, sizes, layers, platforms, tags, storage location,
// requester. It reads the shape validation decoded; a payload validation
// did not get through is decoded here, for the audit of its refusal, and
// gives a record with what is known (its digest and media type).
func (p *Pipeline) describe(x *Push) *metadata.Record {
	var shape validate.Shape
	if x.result != nil {
		shape = x.result.Shape
	} else {
		_ = json.Unmarshal(x.Payload, &shape)
	}
	if x.canonical == "" {
		x.canonical = digest.FromBytes(x.Payload)
	}
	r := &metadata.Record{
		ID:           metadata.NewID(),
		Kind:         metadata.KindPush,
		Repository:   x.Repository,
		Tags:         x.Tags,
		Digest:       x.canonical,
		MediaType:    x.MediaType,
		ArtifactType: cutAt(shape.ArtifactType, maxRecordedName),
		Size:         int64(len(x.Payload)),
		ReceivedAt:   p.now(),
		Source:       x.Source,
		Archive:      x.Archive,
	}
	if r.Source == "" {
		r.Source = metadata.SourceDockerPush
	}
	blobs := make([]digest.Digest, 0, len(shape.Layers)+1)
	if c := shape.Config; c != nil {
		r.Config = &metadata.Blob{Digest: c.Digest, Size: c.Size, MediaType: cutAt(c.MediaType, maxRecordedName)}
		r.Size += c.Size
		blobs = append(blobs, c.Digest)
		if x.result != nil && x.result.Config != nil {
			cfg := x.result.Config // os, architecture, variant: at most 128 bytes each (validate)
			r.Platforms = []metadata.Platform{{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}}
		}
	}
	// A manifest the gate refused before validating it may list
	// anything: its record keeps the first maxUnvalidatedList entries
	// (its size and layer count are still the whole manifest's).
	keep := len(shape.Layers) + len(shape.Manifests)
	if x.result == nil {
		keep = maxUnvalidatedList
	}
	for i, l := range shape.Layers {
		r.Size += l.Size
		if i < keep {
			r.Layers = append(r.Layers, metadata.Blob{Digest: l.Digest, Size: l.Size, MediaType: cutAt(l.MediaType, maxRecordedName)})
			blobs = append(blobs, l.Digest)
		}
	}
	r.LayerCount = len(shape.Layers)
	for i, c := range shape.Manifests {
		r.Size += c.Size
		if i >= keep {
			continue
		}
		r.Manifests = append(r.Manifests, metadata.Blob{Digest: c.Digest, Size: c.Size, MediaType: cutAt(c.MediaType, maxRecordedName)})
		if pl := c.Platform; pl != nil {
			r.Platforms = append(r.Platforms, metadata.Platform{OS: cutAt(pl.OS, maxRecordedName),
				Architecture: cutAt(pl.Architecture, maxRecordedName), Variant: cutAt(pl.Variant, maxRecordedName)})
		}
	}
	r.Storage = p.opts.Locator.Locate(r.Digest, blobs)
	if r.Archive != nil {
		a := p.opts.Locator.Archive(*r.Archive)
		r.Archive = &a
	}
	x.Requester.Fill(r)
	return r
}
