package shim

import (
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types of the manifests the shim writes and reads.
const (
	mtDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerConfig   = "application/vnd.docker.container.image.v1+json"
	mtDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mtDockerTar      = "application/vnd.docker.image.rootfs.diff.tar"
)

// layerMediaType is the media type of a layer stored in format, in a
// Docker or an OCI manifest.
func layerMediaType(format string, docker bool) string {
	switch {
	case format == formatGzip && docker:
		return mtDockerLayer
	case format == formatGzip:
		return v1.MediaTypeImageLayerGzip
	case format == formatZstd:
		return v1.MediaTypeImageLayerZstd
	case docker:
		return mtDockerTar
	default:
		return v1.MediaTypeImageLayer
	}
}

// isImageConfig reports whether mt is an image config (whose diff_ids
// describe the layers), not an artifact's.
func isImageConfig(mt string) bool {
	return mt == mtDockerConfig || mt == v1.MediaTypeImageConfig
}
