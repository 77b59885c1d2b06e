package diffid

import (
	"path"

	"github.com/opencontainers/go-digest"
)

// entryAlgorithms are the diff_id algorithms an entry can be kept in:
// those go-digest validates (Put refuses the others).
var entryAlgorithms = []digest.Algorithm{digest.SHA256, digest.SHA384, digest.SHA512}

// EntryPaths are the storage paths of every entry a DriverStore can hold
// for blob (one per diff_id algorithm), for whoever deletes the blob
// (garbage collection): once they are deleted, the store holds nothing
// for it. Deleting an absent one is the caller's no-op.
func EntryPaths(blob digest.Digest) []string {
	out := make([]string, len(entryAlgorithms))
	for i, alg := range entryAlgorithms {
		out[i] = entryPath(blob, alg)
	}
	return out
}

// EntryDir is the folder holding blob's entries, and nothing else: for
// drivers that delete a folder at once.
func EntryDir(blob digest.Digest) string {
	return path.Join(storeRoot, blob.Algorithm().String(), blob.Encoded())
}
