package validate

import (
	"fmt"
	"strings"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// What a container runtime would run, whatever the gate calls it. An
// artifact (a manifest whose config is not an image config) is not
// scanned; it must then not be something a runtime pulls and runs as an
// image. Two runtimes decide differently, and the gate takes the union:
//
//   - containerd (images.IsLayerType, v2.3) unpacks the layers whose media
//     type starts with application/vnd.oci.image.layer., is one of Docker's
//     layer types (any "+suffix"), or is an EROFS layer, and turns an
//     application/octet-stream config into an image config
//     (remotes/docker.ConvertManifest);
//   - Docker's engine with its own image store (moby's distribution
//     puller, checkSupportedMediaType; Docker 20.10 to 29) pulls an OCI or
//     Docker manifest whose config and every layer have a type it
//     tolerates — application/octet-stream, application/json, text/html,
//     no type at all (what old registries served, docker/distribution#1621),
//     or anything under application/vnd.oci.image. or application/vnd.docker.,
//     compared lower-cased — reads the config as an image config, verifies
//     the layers against its diff_ids, whatever their type says, and runs it.

// erofsLayer is containerd's native EROFS layer type (images.MediaTypeErofsLayer).
const erofsLayer = "application/vnd.erofs.layer.v1"

// dockerTolerated are the types (and, followed by ".", the prefixes) Docker's
// engine accepts for a config or layer of a manifest it pulls.
var dockerTolerated = []string{"application/vnd.oci.image", "application/vnd.docker", "application/octet-stream", "application/json", "text/html", ""}

// isLayerLike reports whether a runtime would unpack a layer of mediaType
// as a filesystem layer whatever the config says: containerd's rule
// (images.IsLayerType) — OCI's layer types by prefix, Docker's by prefix,
// EROFS — widened by the types the server is configured to accept.
func (v *Validator) isLayerLike(mediaType string) bool {
	if v.layerTypes[mediaType] || mediaType == erofsLayer ||
		strings.HasPrefix(mediaType, "application/vnd.docker.image.rootfs.") ||
		strings.HasPrefix(mediaType, "application/vnd.oci.image.layer.") {
		return true
	}
	base, _, _ := strings.Cut(mediaType, "+")
	return base == v1.MediaTypeImageLayer || base == v1.MediaTypeImageLayerNonDistributable //nolint:staticcheck
}

// dockerTolerates reports whether Docker's engine pulls a config or layer
// of mediaType as part of an image (moby's checkSupportedMediaType).
func dockerTolerates(mediaType string) bool {
	mt := strings.ToLower(mediaType)
	for _, t := range dockerTolerated {
		if mt == t || strings.HasPrefix(mt, t+".") {
			return true
		}
	}
	return false
}

// dockerRuns reports whether Docker's engine would pull s as an image: it
// has layers, and its config and every layer have types it tolerates.
func dockerRuns(s *Shape) bool {
	if len(s.Layers) == 0 || !dockerTolerates(s.Config.MediaType) {
		return false
	}
	for _, l := range s.Layers {
		if !dockerTolerates(l.MediaType) {
			return false
		}
	}
	return true
}

// unscannable says why res carries image content no scanner can read, or
// "" when it does not (see Result.Unscannable): a non-distributable layer,
// or an artifact a runtime would run as an image (above).
func (v *Validator) unscannable(res *Result) string {
	for _, l := range res.Shape.Layers {
		if IsForeignLayer(l.MediaType) {
			return fmt.Sprintf("layer %s is non-distributable (%s): its bytes are not in this registry, so it cannot be scanned", l.Digest, l.MediaType)
		}
	}
	if res.Kind != KindArtifact {
		return ""
	}
	for _, l := range res.Shape.Layers {
		if v.isLayerLike(l.MediaType) {
			return fmt.Sprintf("manifest carries image layers (%s) but its config is %q, not an image config, so it cannot be scanned: push it with an image config, or use an artifact layer type",
				l.MediaType, res.Shape.Config.MediaType)
		}
	}
	if dockerRuns(&res.Shape) {
		return fmt.Sprintf("manifest's config (%q) and layers (%q, …) have media types Docker's engine pulls and runs as an image, yet not an image's, so it cannot be scanned: push it with image media types, or give the artifact types of its own",
			res.Shape.Config.MediaType, res.Shape.Layers[0].MediaType)
	}
	return ""
}
