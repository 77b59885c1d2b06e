package trivy

import (
	"bytes"
	"context"
	"fmt"

	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	ggcrtypes "github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagegate/imagegate/scan"
)

// storedImage is a scan.Target as the image Trivy's image artifact
// inspects: a go-containerregistry v1.Image lifted from storedCore, plus
// Trivy's naming methods. Nothing is read before Trivy asks, and layers
// are read only when their analysis is not cached.
type storedImage struct {
	v1.Image
	name string
}

var _ ftypes.Image = (*storedImage)(nil)

// newStoredImage returns t (already validated) as an image whose layer
// blobs are opened with ctx.
func newStoredImage(ctx context.Context, t scan.Target) (*storedImage, error) {
	m, err := v1.ParseManifest(bytes.NewReader(t.RawManifest))
	if err != nil {
		return nil, fmt.Errorf("%w: parse manifest: %v", scan.ErrInvalidTarget, err)
	}
	img, err := partial.CompressedToImage(&storedCore{ctx: ctx, target: t, manifest: m})
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", t.Digest, err)
	}
	return &storedImage{Image: img, name: t.Repository + "@" + t.Digest.String()}, nil
}

// Name is "repository@digest".
func (s *storedImage) Name() string { return s.name }

// ID is the config digest, as Trivy's own image sources report it.
func (s *storedImage) ID() (string, error) {
	h, err := s.ConfigName()
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

// RepoTags is empty: a pushed manifest is tagged only after the gate.
func (s *storedImage) RepoTags() []string { return nil }

// RepoDigests is the image name.
func (s *storedImage) RepoDigests() []string { return []string{s.name} }

// storedCore is the partial.CompressedImageCore of a scan.Target.
type storedCore struct {
	ctx      context.Context
	target   scan.Target
	manifest *v1.Manifest
}

var _ partial.CompressedImageCore = (*storedCore)(nil)

func (c *storedCore) RawConfigFile() ([]byte, error) { return c.target.RawConfig, nil }
func (c *storedCore) RawManifest() ([]byte, error)   { return c.target.RawManifest, nil }

func (c *storedCore) MediaType() (ggcrtypes.MediaType, error) {
	return ggcrtypes.MediaType(c.target.MediaType), nil
}

// LayerByDigest returns the manifest layer with digest h.
func (c *storedCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, d := range c.manifest.Layers {
		if d.Digest == h {
			return &storedLayer{ctx: c.ctx, desc: d, open: c.target.Open}, nil
		}
	}
	return nil, fmt.Errorf("layer %s is not in manifest %s", h, c.target.Digest)
}
