package shim

import "fmt"

// Compression is how uncompressed layers are stored.
type Compression string

// Layer compressions.
const (
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
	None Compression = "none"
)

// Limits bound what one upload may make the server do. Zero fields take
// the defaults of DefaultLimits.
type Limits struct {
	// MaxUploadBytes bounds the request body (compressed, as sent).
	MaxUploadBytes int64
	// MaxDecompressedBytes bounds the tar stream after decompression.
	MaxDecompressedBytes int64
	// MaxRatio bounds decompressed/compressed bytes (gzip/zstd bombs); it
	// is checked once more than 1 MiB has been decompressed.
	MaxRatio int64
	// MaxEntries bounds the number of tar entries.
	MaxEntries int
	// MaxMetadataBytes bounds the JSON documents kept in memory (configs,
	// manifests, manifest.json, index.json) all together.
	MaxMetadataBytes int64
}

// DefaultLimits are the limits a zero Limits stands for.
var DefaultLimits = Limits{
	MaxUploadBytes:       20 << 30,
	MaxDecompressedBytes: 50 << 30,
	MaxRatio:             100,
	MaxEntries:           100_000,
	MaxMetadataBytes:     64 << 20,
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxUploadBytes > 0 {
		d.MaxUploadBytes = l.MaxUploadBytes
	}
	if l.MaxDecompressedBytes > 0 {
		d.MaxDecompressedBytes = l.MaxDecompressedBytes
	}
	if l.MaxRatio > 0 {
		d.MaxRatio = l.MaxRatio
	}
	if l.MaxEntries > 0 {
		d.MaxEntries = l.MaxEntries
	}
	if l.MaxMetadataBytes > 0 {
		d.MaxMetadataBytes = l.MaxMetadataBytes
	}
	return d
}

// ParseCompression checks a configured layer compression.
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(s); c {
	case Gzip, Zstd, None:
		return c, nil
	case "":
		return Gzip, nil
	default:
		return "", fmt.Errorf("layer compression must be gzip, zstd or none, got %q", s)
	}
}
