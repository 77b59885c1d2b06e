package shim

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// saveEntry is one image of a docker save manifest.json.
type saveEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// manifest is an image manifest as the shim writes it: the field order
// of go-containerregistry and Docker (schemaVersion, mediaType, config,
// layers; descriptors mediaType, size, digest), compact.
type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
}

type descriptor struct {
	MediaType string        `json:"mediaType"`
	Size      int64         `json:"size"`
	Digest    digest.Digest `json:"digest"`
}

// dockerSave builds one manifest per entry of manifest.json: the layers
// (compressed on the way when they were plain tars) checked against the
// config's diff_ids; a Docker schema 2 manifest, or an OCI one when a
// layer is zstd-compressed or kept as a plain tar (layercompression none).
func dockerSave(ctx context.Context, a *archive) ([]*image, error) {
	raw, err := a.document("manifest.json", "the archive")
	if err != nil {
		return nil, invalid("manifest.json is larger than %d bytes", maxDocument)
	}
	var entries []saveEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, invalid("manifest.json is not a docker save manifest: %v", err)
	}
	if len(entries) == 0 {
		return nil, invalid("manifest.json lists no image")
	}
	images := make([]*image, 0, len(entries))
	for i, e := range entries {
		label := fmt.Sprintf("manifest.json image %d", i+1)
		img, err := saveImage(ctx, a, e, label)
		if err != nil {
			return nil, err
		}
		images = append(images, img)
	}
	return images, nil
}

func saveImage(ctx context.Context, a *archive, e saveEntry, label string) (*image, error) {
	if e.Config == "" {
		return nil, invalid("%s has no Config", label)
	}
	config, err := a.document(e.Config, label)
	if err != nil {
		return nil, err
	}
	diffs, err := diffIDs(config, label)
	if err != nil {
		return nil, err
	}
	if len(diffs) != len(e.Layers) {
		return nil, invalid("%s lists %d layers but its config %d diff_ids", label, len(e.Layers), len(diffs))
	}
	layers := make([]*stored, len(e.Layers))
	docker := true
	for i, l := range e.Layers {
		st, err := a.blob(ctx, l, label)
		if err != nil {
			return nil, err
		}
		if err := checkDiffID(st, diffs[i], fmt.Sprintf("%s layer %q", label, l)); err != nil {
			return nil, err
		}
		if st.format == formatZstd || st.format == formatTar {
			// Docker schema 2 has no zstd layer type, and its plain tar
			// type is not one the gate accepts: an OCI manifest says both.
			docker = false
		}
		layers[i] = st
	}
	cst, err := a.blob(ctx, e.Config, label)
	if err != nil {
		return nil, err
	}
	m := manifest{SchemaVersion: 2, MediaType: mtDockerManifest,
		Config: descriptor{MediaType: mtDockerConfig, Size: cst.blobSize, Digest: cst.blob}}
	if !docker {
		m.MediaType, m.Config.MediaType = v1.MediaTypeImageManifest, v1.MediaTypeImageConfig
	}
	blobs := []digest.Digest{cst.blob}
	for _, st := range layers {
		m.Layers = append(m.Layers, descriptor{MediaType: layerMediaType(st.format, docker), Size: st.blobSize, Digest: st.blob})
		blobs = append(blobs, st.blob)
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("shim: encoding a manifest: %w", err)
	}
	img := &image{root: newNode(m.MediaType, payload, blobs, nil), label: label}
	for _, st := range layers {
		img.root.verified(st)
	}
	for _, rt := range e.RepoTags {
		t, err := parseRef(rt)
		if err != nil {
			return nil, invalid("%s RepoTags: %v", label, err)
		}
		img.targets = addTarget(img.targets, t)
	}
	return img, nil
}
