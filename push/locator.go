package push

import (
	"path"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
)

// Locator names where the storage driver keeps content, for records: the
// driver, its bucket (object stores) or root directory (filesystem), and a
// key prefix (the driver's rootdirectory inside a bucket).
type Locator struct {
	Driver    string
	Bucket    string
	Root      string
	KeyPrefix string
}

// BlobKey is the object key of blob d in distribution's storage layout;
// "" for a malformed digest (a refused manifest may name anything).
func (l Locator) BlobKey(d digest.Digest) string {
	if d.Validate() != nil {
		return ""
	}
	enc := d.Encoded()
	return path.Join(l.KeyPrefix, "docker/registry/v2/blobs", d.Algorithm().String(), enc[:2], enc, "data")
}

// Locate returns the storage location of a manifest and its blobs.
func (l Locator) Locate(manifest digest.Digest, blobs []digest.Digest) metadata.Location {
	loc := metadata.Location{Driver: l.Driver, Bucket: l.Bucket, Root: l.Root, ManifestKey: l.BlobKey(manifest)}
	if len(blobs) > 0 {
		loc.BlobKeys = make(map[string]string, len(blobs))
		for _, b := range blobs {
			loc.BlobKeys[b.String()] = l.BlobKey(b)
		}
	}
	return loc
}

// Archive returns a, whose Key is a path in the storage driver, with the
// bucket and the object key that path has.
func (l Locator) Archive(a metadata.Archive) metadata.Archive {
	a.Bucket, a.Key = l.Bucket, path.Join(l.KeyPrefix, strings.TrimPrefix(a.Key, "/"))
	return a
}
