package ingest

import (
	"fmt"
	"path"
	"strconv"

	"github.com/opencontainers/go-digest"
)

// repositoriesRoot is where distribution's storage keeps repositories
// (registry/storage/paths.go: <root>/v2/repositories).
const repositoriesRoot = "/docker/registry/v2/repositories"

// BlobDataPath is distribution's blobDataPathSpec, where a blob's bytes
// are in the storage driver:
// <root>/v2/blobs/<algorithm>/<first two hex digits>/<hex>/data. An
// invalid digest is an error.
func BlobDataPath(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("ingest: blob digest: %w", err)
	}
	hex := d.Encoded()
	return path.Join("/docker/registry/v2/blobs", d.Algorithm().String(), hex[:2], hex, "data"), nil
}

// uploadDataPath is distribution's uploadDataPathSpec:
// <root>/v2/repositories/<name>/_uploads/<id>/data.
func uploadDataPath(repo, id string) string {
	return path.Join(repositoriesRoot, repo, "_uploads", id, "data")
}

// uploadStartedAtPath is distribution's uploadStartedAtPathSpec:
// <root>/v2/repositories/<name>/_uploads/<id>/startedat.
func uploadStartedAtPath(repo, id string) string {
	return path.Join(repositoriesRoot, repo, "_uploads", id, "startedat")
}

// hashStatePath is distribution's uploadHashStatePathSpec for sha256 (the
// canonical algorithm, the only one its blob writer hashes with):
// <root>/v2/repositories/<name>/_uploads/<id>/hashstates/sha256/<offset>,
// the offset in decimal.
func hashStatePath(repo, id string, offset int64) string {
	return path.Join(repositoriesRoot, repo, "_uploads", id, "hashstates", "sha256", strconv.FormatInt(offset, 10))
}
