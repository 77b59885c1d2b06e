package config

import (
	"slices"
	"time"
)

// Upload configures the tarball upload endpoints (POST /upload-image,
// /api/v1/uploads; docs/upload.md).
type Upload struct {
	// MaxBytes is the largest request body accepted, as sent (413 early
	// from Content-Length, and while streaming).
	MaxBytes int64 `yaml:"maxbytes"`
	// MaxDecompressedBytes bounds the archive after gzip/zstd decompression.
	MaxDecompressedBytes int64 `yaml:"maxdecompressedbytes"`
	// MaxRatio bounds decompressed/compressed size (gzip and zstd bombs).
	MaxRatio int64 `yaml:"maxratio"`
	// MaxEntries bounds the number of tar entries.
	MaxEntries int `yaml:"maxentries"`
	// LayerCompression is how uncompressed (docker save) layers are
	// stored: gzip, zstd or none.
	LayerCompression string `yaml:"layercompression"`
	// Archive keeps the original tarball of each upload, as received, in
	// the registry's storage at imagegate/archive/images/{user}/{time}/{uuid}.tar[.gz|.zst]
	// (written by the storage driver like every blob: encrypted on S3);
	// the records of its images name it. Off by default.
	Archive bool `yaml:"archive"`
	// Progress bounds the in-memory progress of uploads (per replica).
	Progress UploadProgress `yaml:"progress"`
}

// UploadProgress bounds the progress kept in memory for GET /api/v1/uploads/{id}.
type UploadProgress struct {
	// MaxUploads is how many uploads (running or recently ended) are kept.
	MaxUploads int `yaml:"maxuploads"`
	// Retention is how long an ended upload's progress stays readable.
	Retention time.Duration `yaml:"retention"`
}

// LayerCompressions are the accepted values of upload.layercompression.
var LayerCompressions = []string{"gzip", "zstd", "none"}

// defaultUpload is Default's upload section.
func defaultUpload() Upload {
	return Upload{
		MaxBytes:             20 << 30,
		MaxDecompressedBytes: 50 << 30,
		MaxRatio:             100,
		MaxEntries:           100000,
		LayerCompression:     "gzip",
		Progress:             UploadProgress{MaxUploads: 1000, Retention: 15 * time.Minute},
	}
}

// validate reports the upload section's invalid values through bad.
func (u Upload) validate(bad func(key, format string, args ...any)) {
	if u.MaxBytes <= 0 {
		bad("upload.maxbytes", "must be positive, got %d", u.MaxBytes)
	}
	if u.MaxDecompressedBytes <= 0 {
		bad("upload.maxdecompressedbytes", "must be positive, got %d", u.MaxDecompressedBytes)
	}
	if u.MaxRatio < 1 {
		bad("upload.maxratio", "must be at least 1, got %d", u.MaxRatio)
	}
	if u.MaxEntries < 1 {
		bad("upload.maxentries", "must be at least 1, got %d", u.MaxEntries)
	}
	if !slices.Contains(LayerCompressions, u.LayerCompression) {
		bad("upload.layercompression", "must be one of %v, got %q", LayerCompressions, u.LayerCompression)
	}
	if u.Progress.MaxUploads < 1 {
		bad("upload.progress.maxuploads", "must be at least 1, got %d", u.Progress.MaxUploads)
	}
	if u.Progress.Retention <= 0 {
		bad("upload.progress.retention", "must be positive, got %s", u.Progress.Retention)
	}
}
