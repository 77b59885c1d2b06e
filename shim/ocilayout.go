package shim

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/push"
)

// Annotations naming an image in an OCI layout's index.json.
const (
	annotationRefName       = v1.AnnotationRefName
	annotationContainerdRef = "io.containerd.image.name"
)

// ociLayout reads index.json: each descriptor is an image (a manifest or
// an index, whose children come along). Blobs are checked against their
// descriptors; layers that the shim compressed on the way are put in
// rewritten manifests (whose digests therefore change).
func ociLayout(ctx context.Context, a *archive) ([]*image, error) {
	layout, err := a.document(v1.ImageLayoutFile, "the OCI layout")
	if err != nil {
		return nil, invalid("index.json without a valid oci-layout file: %v", err)
	}
	var l v1.ImageLayout
	if err := json.Unmarshal(layout, &l); err != nil || l.Version != v1.ImageLayoutVersion {
		return nil, invalid("oci-layout must declare imageLayoutVersion %q", v1.ImageLayoutVersion)
	}
	raw, err := a.document(v1.ImageIndexFile, "the OCI layout")
	if err != nil {
		return nil, err
	}
	var idx v1.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, invalid("index.json is not an OCI image index: %v", err)
	}
	if len(idx.Manifests) == 0 {
		return nil, invalid("index.json lists no manifest")
	}
	r := &layoutReader{a: a, nodes: map[digest.Digest]*node{}}
	var images []*image
	for i, d := range idx.Manifests {
		label := fmt.Sprintf("index.json manifest %d (%s)", i+1, d.Digest)
		n, err := r.manifest(ctx, d, label, 0)
		if err != nil {
			return nil, err
		}
		img := &image{root: n, label: label}
		if ref := d.Annotations[annotationContainerdRef]; ref != "" {
			t, err := parseRef(ref)
			if err != nil {
				return nil, invalid("%s annotation %s: %v", label, annotationContainerdRef, err)
			}
			img.targets = addTarget(img.targets, t)
		} else if ref := d.Annotations[annotationRefName]; ref != "" {
			t, err := refNameTarget(ref)
			if err != nil {
				return nil, invalid("%s annotation %s: %v", label, annotationRefName, err)
			}
			img.targets = addTarget(img.targets, t)
		}
		images = append(images, img)
	}
	return images, nil
}

// refNameTarget reads org.opencontainers.image.ref.name: a tag ("1.2"),
// or a full reference ("team/app:1.2").
func refNameTarget(ref string) (Target, error) {
	if push.ValidTag(ref) {
		return Target{Tags: []string{ref}}, nil
	}
	return parseRef(ref)
}

// layoutReader resolves manifests of an OCI layout, each once.
type layoutReader struct {
	a     *archive
	nodes map[digest.Digest]*node
}

// blobPath is where an OCI layout keeps the blob d.
func blobPath(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// manifest resolves the manifest or index d describes.
func (r *layoutReader) manifest(ctx context.Context, d v1.Descriptor, label string, depth int) (*node, error) {
	if n, ok := r.nodes[d.Digest]; ok {
		return n, nil
	}
	if depth > 4 {
		return nil, invalid("%s: indexes nested deeper than 4 levels", label)
	}
	if err := d.Digest.Validate(); err != nil {
		return nil, invalid("%s: invalid digest: %v", label, err)
	}
	payload, err := r.a.document(blobPath(d.Digest), label)
	if err != nil {
		return nil, err
	}
	if int64(len(payload)) != d.Size || digest.FromBytes(payload) != d.Digest {
		return nil, invalid("%s: descriptor says %d bytes with digest %s, the blob has %d bytes with digest %s",
			label, d.Size, d.Digest, len(payload), digest.FromBytes(payload))
	}
	var probe struct {
		MediaType string `json:"mediaType"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return nil, invalid("%s: not a JSON manifest: %v", label, err)
	}
	mt := d.MediaType
	if mt == "" {
		mt = probe.MediaType
	}
	var n *node
	switch mt {
	case v1.MediaTypeImageManifest, mtDockerManifest:
		n, err = r.image(ctx, mt, payload, label)
	case v1.MediaTypeImageIndex, mtDockerList:
		n, err = r.index(ctx, mt, payload, label, depth)
	default:
		return nil, invalid("%s: unsupported manifest media type %q", label, mt)
	}
	if err != nil {
		return nil, err
	}
	r.nodes[d.Digest] = n
	return n, nil
}

// image resolves an image manifest: its config and layers, their diff_ids.
func (r *layoutReader) image(ctx context.Context, mt string, payload []byte, label string) (*node, error) {
	var m v1.Manifest
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, invalid("%s: not an image manifest: %v", label, err)
	}
	cst, err := r.blob(ctx, m.Config, label+" config")
	if err != nil {
		return nil, err
	}
	var diffs []digest.Digest
	if isImageConfig(m.Config.MediaType) {
		config, err := r.a.document(blobPath(m.Config.Digest), label+" config")
		if err != nil {
			return nil, err
		}
		if diffs, err = diffIDs(config, label); err != nil {
			return nil, err
		}
		if len(diffs) != len(m.Layers) {
			return nil, invalid("%s lists %d layers but its config %d diff_ids", label, len(m.Layers), len(diffs))
		}
	}
	blobs := []digest.Digest{cst.blob}
	var verified []*stored
	changed := false
	docker := mt == mtDockerManifest
	for i := range m.Layers {
		l := &m.Layers[i]
		what := fmt.Sprintf("%s layer %s", label, l.Digest)
		st, err := r.blob(ctx, *l, what)
		if err != nil {
			return nil, err
		}
		if diffs != nil {
			if err := checkDiffID(st, diffs[i], what); err != nil {
				return nil, err
			}
			verified = append(verified, st)
		}
		if st.blob != st.raw { // compressed on the way
			if st.format == formatZstd && docker {
				return nil, invalid("%s: a Docker manifest cannot reference a zstd layer; set upload.layercompression to gzip or none", label)
			}
			l.Digest, l.Size, l.MediaType = st.blob, st.blobSize, layerMediaType(st.format, docker)
			changed = true
		}
		blobs = append(blobs, st.blob)
	}
	if changed {
		if payload, err = json.Marshal(m); err != nil {
			return nil, fmt.Errorf("shim: encoding a manifest: %w", err)
		}
	}
	n := newNode(mt, payload, blobs, nil)
	for _, st := range verified {
		n.verified(st)
	}
	return n, nil
}

// index resolves an index and its children.
func (r *layoutReader) index(ctx context.Context, mt string, payload []byte, label string, depth int) (*node, error) {
	var idx v1.Index
	if err := json.Unmarshal(payload, &idx); err != nil {
		return nil, invalid("%s: not an image index: %v", label, err)
	}
	children := make([]*node, 0, len(idx.Manifests))
	changed := false
	for i := range idx.Manifests {
		c := &idx.Manifests[i]
		n, err := r.manifest(ctx, *c, fmt.Sprintf("%s child %s", label, c.Digest), depth+1)
		if err != nil {
			return nil, err
		}
		if n.digest != c.Digest {
			c.Digest, c.Size = n.digest, int64(len(n.payload))
			changed = true
		}
		children = append(children, n)
	}
	if changed {
		var err error
		if payload, err = json.Marshal(idx); err != nil {
			return nil, fmt.Errorf("shim: encoding an index: %w", err)
		}
	}
	return newNode(mt, payload, nil, children), nil
}

// blob returns the stored blob d describes, checking its size.
func (r *layoutReader) blob(ctx context.Context, d v1.Descriptor, what string) (*stored, error) {
	if err := d.Digest.Validate(); err != nil {
		return nil, invalid("%s: invalid digest: %v", what, err)
	}
	st, err := r.a.blob(ctx, blobPath(d.Digest), what)
	if err != nil {
		return nil, err
	}
	if st.rawSize != d.Size {
		return nil, invalid("%s: the descriptor says %d bytes, the blob has %d", what, d.Size, st.rawSize)
	}
	return st, nil
}
