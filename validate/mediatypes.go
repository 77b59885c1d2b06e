package validate

import (
	"slices"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker media types (schema2).
const (
	dockerManifest      = "application/vnd.docker.distribution.manifest.v2+json"
	dockerManifestList  = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerConfig        = "application/vnd.docker.container.image.v1+json"
	dockerLayer         = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	dockerForeignLayer  = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	dockerSchema1       = "application/vnd.docker.distribution.manifest.v1+json"
	dockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

// imageLayerTypes are the distributable layer media types of images.
var imageLayerTypes = []string{
	dockerLayer,
	v1.MediaTypeImageLayer,
	v1.MediaTypeImageLayerGzip,
	v1.MediaTypeImageLayerZstd,
}

// foreignLayerTypes are non-distributable layers, accepted only on request.
var foreignLayerTypes = []string{
	dockerForeignLayer,
	v1.MediaTypeImageLayerNonDistributable,     //nolint:staticcheck // deprecated in the spec, still pushed
	v1.MediaTypeImageLayerNonDistributableGzip, //nolint:staticcheck
	v1.MediaTypeImageLayerNonDistributableZstd, //nolint:staticcheck
}

// imageConfigTypes are config media types of runnable images.
var imageConfigTypes = map[string]bool{v1.MediaTypeImageConfig: true, dockerConfig: true}

// indexTypes are manifest media types listing other manifests.
var indexTypes = map[string]bool{v1.MediaTypeImageIndex: true, dockerManifestList: true}

// manifestTypes are manifest media types describing one image or artifact.
var manifestTypes = map[string]bool{v1.MediaTypeImageManifest: true, dockerManifest: true}

// IsForeignLayer reports whether mediaType is a non-distributable layer
// type: its bytes may live at URLs outside the registry.
func IsForeignLayer(mediaType string) bool { return slices.Contains(foreignLayerTypes, mediaType) }

// IsImageConfig reports whether mediaType is the config type of a runnable
// image (OCI or Docker).
func IsImageConfig(mediaType string) bool { return imageConfigTypes[mediaType] }
