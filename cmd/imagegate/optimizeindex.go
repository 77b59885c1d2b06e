package main

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagegate/imagegate/layers/optimize"
)

// platformOutcome is one platform of an optimized index.
type platformOutcome struct {
	Platform     string `json:"platform"`
	SourceDigest string `json:"source_digest"`
	Digest       string `json:"digest,omitempty"` // the new image's
	figures
}

// attestationType is the annotation BuildKit marks the manifests of an
// index that attest another one (provenance, SBOM) with.
const attestationType = "vnd.docker.reference.type"

// optimizeIndex optimizes every image of the index desc and (unless a dry
// run) pushes each by digest to dst's repository, each through the gate,
// then a new index naming them, with the original's platforms and
// annotations, to dst. Attestation manifests are left out (they name the
// original images) and listed in out.LeftOut; an index inside the index
// is an error. It fills out's totals, platforms, digest and gate.
func optimizeIndex(ctx context.Context, out *optimizeOutcome, desc *remote.Descriptor, dst name.Tag, ropts []remote.Option, opts optimize.Options) error {
	idx, err := desc.ImageIndex()
	if err != nil {
		return fmt.Errorf("reading the index: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading the index: %w", err)
	}
	var adds []mutate.IndexAddendum
	for _, c := range im.Manifests {
		p := "unknown platform"
		if c.Platform != nil {
			p = c.Platform.String()
		}
		if c.Annotations[attestationType] == "attestation-manifest" {
			out.LeftOut = append(out.LeftOut, fmt.Sprintf("%s (%s): an attestation of the original image", c.Digest, p))
			continue
		}
		if !c.MediaType.IsImage() {
			return fmt.Errorf("the index lists %s (%s), not an image: only images are optimized", c.Digest, c.MediaType)
		}
		img, err := idx.Image(c.Digest)
		if err != nil {
			return fmt.Errorf("%s: reading %s: %w", p, c.Digest, err)
		}
		res, err := optimize.Optimize(ctx, img, opts)
		if err != nil {
			refusal(out, err)
			return fmt.Errorf("%s: %w", p, err)
		}
		po := platformOutcome{Platform: p, SourceDigest: c.Digest.String(), figures: figuresOf(res)}
		out.BeforeBytes += res.Before
		out.AfterBytes += res.After
		out.DroppedFiles += res.DroppedFiles
		out.DroppedBytes += res.DroppedBytes
		if !opts.DryRun {
			d, err := res.Image.Digest()
			if err == nil {
				po.Digest = d.String()
				err = remote.Write(dst.Context().Digest(d.String()), res.Image, ropts...)
			}
			if err != nil {
				res.Close()
				refusal(out, err)
				return fmt.Errorf("%s: pushing the optimized image: %w", p, err)
			}
			adds = append(adds, mutate.IndexAddendum{Add: res.Image, Descriptor: v1.Descriptor{Platform: c.Platform, Annotations: c.Annotations}})
		}
		res.Close()
		out.Platforms = append(out.Platforms, po)
	}
	out.saved()
	if opts.DryRun {
		return nil
	}
	if len(adds) == 0 {
		return fmt.Errorf("the index lists no image to optimize")
	}
	ni := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, im.MediaType), adds...)
	if len(im.Annotations) > 0 {
		ni = mutate.Annotations(ni, im.Annotations).(v1.ImageIndex)
	}
	d, err := ni.Digest()
	if err != nil {
		return fmt.Errorf("the new index's digest: %w", err)
	}
	out.Digest = d.String()
	if err := remote.WriteIndex(dst, ni, ropts...); err != nil {
		refusal(out, err)
		return fmt.Errorf("pushing the new index: %w", err)
	}
	out.Gate = &gateOutcome{Accepted: true}
	return nil
}
