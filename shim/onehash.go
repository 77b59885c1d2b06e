package shim

import (
	"context"
	"hash"
	"io"

	"github.com/distribution/distribution/v3"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/ingest"
)

// The door hashes every byte it stores: the sha256 its copy computes on
// a goroutine of its own (raw, or comp for a layer it compressed) is the
// digest the blob is committed under. distribution's blob writer hashes
// the same bytes again to verify that commit — with
// upload.layercompression none that second sha256 was half the door's
// hashing and a third of its CPU (docs/performance.md, round 5). Where
// ingest stores the /v2/ uploads (the filesystem driver, on by default),
// the door's uploads are ingest's Hashed ones instead: the bytes go to
// the upload's data file as they are, and at the commit the copy's own
// hash state is stored where distribution resumes it, so distribution
// checks the digest without hashing a byte. Elsewhere (S3) the door
// writes through distribution's writer, as before.

// blobUpload is a blob upload the door writes, then commits or cancels.
// Write is for one goroutine at a time.
type blobUpload interface {
	io.Writer
	// Commit stores the bytes written as desc (or refuses a desc whose
	// digest or size is not theirs); sum is the sha256 of exactly those
	// bytes, in order, computed by the copy.
	Commit(ctx context.Context, desc v1.Descriptor, sum hash.Hash) (v1.Descriptor, error)
	// Cancel removes the upload.
	Cancel(ctx context.Context) error
}

// distributionUpload is distribution's blob writer: it hashes what is
// written to it and verifies the commit with its own digest, not sum.
type distributionUpload struct{ distribution.BlobWriter }

// Commit implements blobUpload.
func (u distributionUpload) Commit(ctx context.Context, desc v1.Descriptor, _ hash.Hash) (v1.Descriptor, error) {
	return u.BlobWriter.Commit(ctx, desc)
}

var (
	_ blobUpload = distributionUpload{}
	_ blobUpload = (*ingest.Hashed)(nil)
)
