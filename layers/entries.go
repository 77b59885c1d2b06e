package layers

import (
	"path"

	"github.com/opencontainers/go-digest"
)

// EntryPaths are the storage paths of every entry a DriverStore can hold
// for blob, for whoever deletes the blob (garbage collection): once they
// are deleted, the store holds nothing for it. Deleting an absent one is
// the caller's no-op.
func EntryPaths(blob digest.Digest) []string {
	return []string{entryPath(blob)}
}

// EntryDir is the folder holding blob's entries, and nothing else: for
// drivers that delete a folder at once.
func EntryDir(blob digest.Digest) string {
	return path.Join(storeRoot, blob.Algorithm().String(), blob.Encoded())
}
