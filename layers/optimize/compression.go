package optimize

import (
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is how rewritten layers are compressed.
type Compression string

// The compressions optimize writes. Gzip is the default: Docker engines
// before 23.0 cannot pull zstd layers.
const (
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

// ParseCompression accepts "gzip" and "zstd" ("" is gzip).
func ParseCompression(s string) (Compression, error) {
	switch Compression(s) {
	case "", Gzip:
		return Gzip, nil
	case Zstd:
		return Zstd, nil
	}
	return "", fmt.Errorf("compression %q: want gzip or zstd", s)
}

// compressor wraps w in c's encoder; closing it flushes the encoder, not w.
func (c Compression) compressor(w io.Writer) (io.WriteCloser, error) {
	if c == Zstd {
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault))
	}
	return gzip.NewWriterLevel(w, gzip.DefaultCompression)
}

// layerMediaType is the media type of a layer compressed with c in a
// manifest of the OCI (oci) or Docker schema 2 family.
func (c Compression) layerMediaType(oci bool) types.MediaType {
	switch {
	case c == Zstd:
		return types.OCILayerZStd
	case oci:
		return types.OCILayer
	}
	return types.DockerLayer
}

// compressionOf says how a layer of media type mt is compressed ("" for
// an uncompressed tar); ok is false for a media type optimize does not
// rewrite (foreign or non-distributable layers, anything unknown).
func compressionOf(mt types.MediaType) (c Compression, ok bool) {
	switch mt {
	case types.DockerLayer, types.OCILayer:
		return Gzip, true
	case types.OCILayerZStd:
		return Zstd, true
	case types.OCIUncompressedLayer, "application/vnd.docker.image.rootfs.diff.tar":
		return "", true
	}
	return "", false
}
