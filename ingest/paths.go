package ingest

import (
	"path"
	"strconv"
)

// repositoriesRoot is where distribution's storage keeps repositories
// (registry/storage/paths.go: <root>/v2/repositories).
const repositoriesRoot = "/docker/registry/v2/repositories"

// uploadDataPath is distribution's uploadDataPathSpec:
// <root>/v2/repositories/<name>/_uploads/<id>/data.
func uploadDataPath(repo, id string) string {
	return path.Join(repositoriesRoot, repo, "_uploads", id, "data")
}

// hashStatePath is distribution's uploadHashStatePathSpec for sha256 (the
// canonical algorithm, the only one its blob writer hashes with):
// <root>/v2/repositories/<name>/_uploads/<id>/hashstates/sha256/<offset>,
// the offset in decimal.
func hashStatePath(repo, id string, offset int64) string {
	return path.Join(repositoriesRoot, repo, "_uploads", id, "hashstates", "sha256", strconv.FormatInt(offset, 10))
}
