package scan

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"
)

// Manifest media types a Target may have.
const (
	MediaTypeOCIManifest     = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeDockerManifest  = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeOCIIndex        = "application/vnd.oci.image.index.v1+json"
	mediaTypeDockerManifests = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// manifest is the part of an image manifest Validate checks.
type manifest struct {
	MediaType string `json:"mediaType"`
	Config    struct {
		Digest digest.Digest `json:"digest"`
	} `json:"config"`
	Layers []struct {
		Digest    digest.Digest `json:"digest"`
		Size      int64         `json:"size"`
		MediaType string        `json:"mediaType"`
	} `json:"layers"`
}

// Validate checks that t describes one single-platform image: a supported
// media type, Digest matching RawManifest, RawConfig matching the manifest's
// config digest, Layers equal to the manifest's layers, and an Open func.
// Errors wrap ErrInvalidTarget. Scanners call it before anything else.
func (t Target) Validate() error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w %s@%s: %s", ErrInvalidTarget, t.Repository, t.Digest, fmt.Sprintf(format, args...))
	}
	switch t.MediaType {
	case MediaTypeOCIManifest, MediaTypeDockerManifest:
	case mediaTypeOCIIndex, mediaTypeDockerManifests:
		return invalid("media type %s is an index: scan each platform manifest instead", t.MediaType)
	default:
		return invalid("unsupported manifest media type %q", t.MediaType)
	}
	if t.Open == nil {
		return invalid("no blob opener")
	}
	if err := t.Digest.Validate(); err != nil {
		return invalid("manifest digest: %v", err)
	}
	if got := t.Digest.Algorithm().FromBytes(t.RawManifest); got != t.Digest {
		return invalid("manifest bytes have digest %s", got)
	}
	var m manifest
	if err := json.Unmarshal(t.RawManifest, &m); err != nil {
		return invalid("parse manifest: %v", err)
	}
	if m.MediaType != "" && m.MediaType != t.MediaType {
		return invalid("manifest says media type %q", m.MediaType)
	}
	if err := m.Config.Digest.Validate(); err != nil {
		return invalid("config digest: %v", err)
	}
	if got := m.Config.Digest.Algorithm().FromBytes(t.RawConfig); got != m.Config.Digest {
		return invalid("config bytes have digest %s, manifest wants %s", got, m.Config.Digest)
	}
	want := make([]Layer, len(m.Layers))
	for i, l := range m.Layers {
		want[i] = Layer{Digest: l.Digest, Size: l.Size, MediaType: l.MediaType}
	}
	if !slices.Equal(want, t.Layers) {
		return invalid("layers differ from the manifest's")
	}
	return nil
}
