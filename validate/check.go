package validate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest is a pushed manifest as the client sent it.
type Manifest struct {
	Repository string
	MediaType  string
	Payload    []byte
	// KeepConfig keeps the image config's bytes in Result.RawConfig (for
	// a scanner), holding them in the validator's config budget until
	// Result.Release.
	KeepConfig bool
}

// Blobs reads the repository's blobs (distribution.BlobStore fits).
type Blobs interface {
	Stat(ctx context.Context, d digest.Digest) (v1.Descriptor, error)
	Open(ctx context.Context, d digest.Digest) (io.ReadSeekCloser, error)
}

// Manifests tells whether a manifest exists in the repository
// (distribution.ManifestService fits).
type Manifests interface {
	Exists(ctx context.Context, d digest.Digest) (bool, error)
}

// Shape is what every accepted manifest format shares.
type Shape struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *v1.Descriptor    `json:"config"`
	Layers        []v1.Descriptor   `json:"layers"`
	Manifests     []v1.Descriptor   `json:"manifests"`
	Subject       *v1.Descriptor    `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

// Kind says what a manifest describes.
type Kind int

const (
	KindImage    Kind = iota // a runnable image: an image config (whatever artifactType says) and layers
	KindArtifact             // an OCI artifact: a config that is not an image config
	KindIndex                // a list of manifests (multi-platform image or artifact index)
)

// Result is what validation learnt about an accepted manifest.
type Result struct {
	Kind  Kind
	Shape Shape
	// RawConfig is the image config blob (images only), kept only when
	// Manifest.KeepConfig asked for it; Release drops it.
	RawConfig []byte
	// Config is what the gate read of the image config (images only).
	Config *Config
	// Unscannable, when not empty, says why the manifest carries image
	// content that no scanner can read: non-distributable layers (their
	// bytes are elsewhere), or image layers behind a config that is not an
	// image config. A scan policy in enforce mode refuses it.
	Unscannable string
	// release gives RawConfig's bytes back to the config budget.
	release func()
}

// Validate checks m, whose media type distribution has already accepted as
// one it can parse. It returns an errcode.Error for every refusal and a
// plain error only when storage itself failed.
func (v *Validator) Validate(ctx context.Context, m Manifest, blobs Blobs, manifests Manifests) (*Result, error) {
	switch m.MediaType {
	case dockerSchema1, dockerSchema1Signed:
		return nil, invalid("Docker schema1 manifests are not accepted: push with a current client, or convert the image (crane copy, skopeo copy --format v2s2)", nil)
	}
	var res Result
	if err := json.Unmarshal(m.Payload, &res.Shape); err != nil {
		return nil, invalid("manifest is not valid JSON", err.Error())
	}
	s := &res.Shape
	if s.SchemaVersion != 2 {
		return nil, invalid(fmt.Sprintf("manifest schemaVersion is %d; only 2 is accepted", s.SchemaVersion), nil)
	}
	if s.MediaType != "" && s.MediaType != m.MediaType {
		return nil, invalid(fmt.Sprintf("manifest mediaType %q disagrees with Content-Type %q", s.MediaType, m.MediaType), nil)
	}
	if s.Subject != nil { // the referrers index files a referrer under it
		if err := s.Subject.Digest.Validate(); err != nil {
			return nil, invalid("manifest subject has an invalid digest", map[string]string{"digest": s.Subject.Digest.String(), "reason": err.Error()})
		}
	}
	if err := checkTypeLengths(s); err != nil {
		return nil, err
	}
	switch {
	case indexTypes[m.MediaType]:
		res.Kind = KindIndex
		return &res, v.checkIndex(ctx, s, manifests)
	case manifestTypes[m.MediaType]:
	default:
		return nil, invalid(fmt.Sprintf("manifest media type %q is not accepted", m.MediaType), nil)
	}

	if s.Config == nil {
		return nil, invalid("manifest has no config descriptor", nil)
	}
	// What a manifest is follows from what a runtime would do with it —
	// its config and layer media types — never from artifactType, a field
	// the pusher chooses freely.
	res.Kind = KindImage
	if !imageConfigTypes[s.Config.MediaType] {
		res.Kind = KindArtifact
		if !v.opts.AllowArtifacts {
			return nil, denied(fmt.Sprintf("OCI artifacts are not accepted here (config type %q, artifactType %q)", s.Config.MediaType, s.ArtifactType), nil)
		}
	}
	res.Unscannable = v.unscannable(&res)
	if err := v.checkLimits(s); err != nil {
		return nil, err
	}
	if res.Kind == KindImage {
		if err := v.checkLayerTypes(s); err != nil {
			return nil, err
		}
	}
	if err := checkBlobs(ctx, s, blobs); err != nil {
		return nil, err
	}
	if res.Kind == KindImage {
		if err := v.checkConfig(ctx, &res, blobs, m); err != nil {
			return nil, err
		}
		if err := v.checkDiffIDs(ctx, &res, blobs); err != nil {
			res.Release() // the config kept for a scan that will not come
			return nil, err
		}
	}
	if err := v.checkLint(m.Repository, &res); err != nil {
		res.Release()
		return nil, err
	}
	return &res, nil
}

func (v *Validator) checkIndex(ctx context.Context, s *Shape, manifests Manifests) error {
	if max := v.opts.Limits.MaxIndexManifests; max > 0 && len(s.Manifests) > max {
		return denied(fmt.Sprintf("index lists %d manifests; the limit is %d", len(s.Manifests), max),
			map[string]any{"limit": "maxindexmanifests", "max": max, "actual": len(s.Manifests)})
	}
	for _, c := range s.Manifests {
		if err := c.Digest.Validate(); err != nil {
			return invalid("index entry has an invalid digest", map[string]string{"digest": c.Digest.String()})
		}
		if err := checkIndexPlatform(c); err != nil {
			return err
		}
		ok, err := manifests.Exists(ctx, c.Digest)
		if err != nil {
			return fmt.Errorf("validate: checking index entry %s: %w", c.Digest, err)
		}
		if !ok {
			return errcode.ErrorCodeManifestBlobUnknown.WithMessage(
				fmt.Sprintf("index references manifest %s, which is not in this repository: push every platform's manifest before the index", c.Digest)).
				WithDetail(map[string]string{"digest": c.Digest.String()})
		}
	}
	return nil
}

func (v *Validator) checkLimits(s *Shape) error {
	l := v.opts.Limits
	if l.MaxLayers > 0 && len(s.Layers) > l.MaxLayers {
		return denied(fmt.Sprintf("image has %d layers; the limit is %d", len(s.Layers), l.MaxLayers),
			map[string]any{"limit": "maxlayers", "max": l.MaxLayers, "actual": len(s.Layers)})
	}
	total := s.Config.Size
	for _, layer := range s.Layers {
		if layer.Size < 0 {
			return errcode.ErrorCodeSizeInvalid.WithMessage("layer size is negative").WithDetail(map[string]any{"digest": layer.Digest, "size": layer.Size})
		}
		if l.MaxLayerBytes > 0 && layer.Size > l.MaxLayerBytes {
			return denied(fmt.Sprintf("layer %s is %d bytes; the limit is %d", layer.Digest, layer.Size, l.MaxLayerBytes),
				map[string]any{"limit": "maxlayerbytes", "max": l.MaxLayerBytes, "actual": layer.Size, "digest": layer.Digest})
		}
		total += layer.Size
	}
	if l.MaxImageBytes > 0 && total > l.MaxImageBytes {
		return denied(fmt.Sprintf("image is %d bytes; the limit is %d", total, l.MaxImageBytes),
			map[string]any{"limit": "maximagebytes", "max": l.MaxImageBytes, "actual": total})
	}
	return nil
}

func (v *Validator) checkLayerTypes(s *Shape) error {
	for _, layer := range s.Layers {
		if v.layerTypes[layer.MediaType] {
			if err := checkLayerURLs(layer); err != nil {
				return err
			}
			continue
		}
		if IsForeignLayer(layer.MediaType) {
			return denied(fmt.Sprintf("layer %s is non-distributable (%s); foreign layers are not accepted here", layer.Digest, layer.MediaType),
				map[string]string{"digest": layer.Digest.String(), "mediaType": layer.MediaType})
		}
		return invalid(fmt.Sprintf("layer %s has media type %q, which is not an image layer type", layer.Digest, layer.MediaType),
			map[string]string{"digest": layer.Digest.String(), "mediaType": layer.MediaType})
	}
	return nil
}

// checkBlobs makes sure every referenced blob is in the repository with the
// declared size. Foreign layers that point elsewhere are not stored here.
func checkBlobs(ctx context.Context, s *Shape, blobs Blobs) error {
	refs := append([]v1.Descriptor{*s.Config}, s.Layers...)
	for _, d := range refs {
		if len(d.URLs) > 0 && IsForeignLayer(d.MediaType) {
			continue
		}
		if err := d.Digest.Validate(); err != nil {
			return errcode.ErrorCodeDigestInvalid.WithMessage("manifest references an invalid digest").WithDetail(map[string]string{"digest": d.Digest.String()})
		}
		got, err := blobs.Stat(ctx, d.Digest)
		switch {
		case errors.Is(err, distribution.ErrBlobUnknown):
			return errcode.ErrorCodeManifestBlobUnknown.WithMessage(
				fmt.Sprintf("manifest references blob %s, which was not uploaded to this repository", d.Digest)).
				WithDetail(map[string]string{"digest": d.Digest.String()})
		case err != nil:
			return fmt.Errorf("validate: stat of blob %s: %w", d.Digest, err)
		case got.Size != d.Size:
			return errcode.ErrorCodeSizeInvalid.WithMessage(
				fmt.Sprintf("manifest declares blob %s as %d bytes; it is %d bytes", d.Digest, d.Size, got.Size)).
				WithDetail(map[string]any{"digest": d.Digest, "declared": d.Size, "actual": got.Size})
		}
	}
	return nil
}

func (v *Validator) checkLint(repo string, res *Result) error {
	for _, r := range v.lint {
		if !r.pattern.Match(repo) {
			continue
		}
		var labels map[string]bool
		if res.Config != nil {
			labels = res.Config.Labels
		}
		for _, l := range r.Labels {
			if _, ok := labels[l]; !ok {
				return denied(fmt.Sprintf("images in %s must carry the label %s (lint rule %q)", repo, l, r.Repositories),
					map[string]string{"rule": r.Repositories, "missing_label": l})
			}
		}
		for _, a := range r.Annotations {
			if _, ok := res.Shape.Annotations[a]; !ok {
				return denied(fmt.Sprintf("manifests in %s must carry the annotation %s (lint rule %q)", repo, a, r.Repositories),
					map[string]string{"rule": r.Repositories, "missing_annotation": a})
			}
		}
	}
	return nil
}

func invalid(msg string, detail any) error {
	return errcode.ErrorCodeManifestInvalid.WithMessage(msg).WithDetail(detail)
}

func denied(msg string, detail any) error {
	return errcode.ErrorCodeDenied.WithMessage(msg).WithDetail(detail)
}
