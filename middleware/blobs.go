package middleware

import (
	"context"
	"errors"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/gc"
	"github.com/imagegate/imagegate/quota"
)

// blobStore is the guard on one repository's blobs: an upload completes
// only when the repository's quota can hold it (quota.AdmitBlob).
type blobStore struct {
	distribution.BlobStore
	repo *repository
}

// Create implements distribution.BlobIngester.
func (b *blobStore) Create(ctx context.Context, options ...distribution.BlobCreateOption) (distribution.BlobWriter, error) {
	b.touchMount(ctx, options)
	w, err := b.BlobStore.Create(ctx, options...)
	if err != nil {
		return nil, err
	}
	return &blobWriter{BlobWriter: w, repo: b.repo}, nil
}

// Resume implements distribution.BlobIngester.
func (b *blobStore) Resume(ctx context.Context, id string) (distribution.BlobWriter, error) {
	w, err := b.BlobStore.Resume(ctx, id)
	if err != nil {
		return nil, err
	}
	return &blobWriter{BlobWriter: w, repo: b.repo}, nil
}

// blobWriter checks the quota before an upload completes.
type blobWriter struct {
	distribution.BlobWriter
	repo *repository
}

// Commit refuses with 403 DENIED (used, limit, namespace) when the
// repository's quota cannot hold the blob; distribution then cancels the
// upload.
func (w *blobWriter) Commit(ctx context.Context, desc v1.Descriptor) (v1.Descriptor, error) {
	w.repo.guard.touch(ctx, w.repo.Named().Name(), gc.UnreachableUpload, desc.Digest)
	err := w.repo.guard.opts.Quotas.AdmitBlob(ctx, w.repo.Named().Name(), desc.Digest, w.Size())
	var exceeded *quota.Exceeded
	switch {
	case errors.As(err, &exceeded):
		return v1.Descriptor{}, exceeded.OCI()
	case err != nil:
		w.repo.guard.opts.Logger.WarnContext(ctx, "checking the quota of a blob upload failed", "error", err.Error())
		return v1.Descriptor{}, errcode.ErrorCodeUnavailable.WithMessage("the quota store is unreachable; retry")
	}
	return w.BlobWriter.Commit(ctx, desc)
}

// touchMount touches the blob a cross-repository mount links, before
// distribution checks that it exists and links it: garbage collection
// then either skips the blob or is waited out (gc.Fence).
func (b *blobStore) touchMount(ctx context.Context, options []distribution.BlobCreateOption) {
	var opts distribution.CreateOptions
	for _, o := range options {
		if o.Apply(&opts) != nil {
			return // not a mount option distribution knows: it decides
		}
	}
	if !opts.Mount.ShouldMount || opts.Mount.From == nil {
		return
	}
	b.repo.guard.touch(ctx, b.repo.Named().Name(), gc.UnreachableMount, opts.Mount.From.Digest())
}

// TouchMount touches blob d for a mount into repo that distribution does
// not see as one (a mount naming no source repository, oci/blobs.go),
// before its existence is checked; best effort, as every blob touch.
func (g *Guard) TouchMount(ctx context.Context, repo string, d digest.Digest) {
	g.touch(ctx, repo, gc.UnreachableMount, d)
}

// touch touches blob d for an upload or a mount (what), best effort: a
// failure (the fleet store unreachable, a tombstone held too long) is
// logged and counted, never refused. That is safe: an uploaded blob is
// usually new, younger than the grace period, so no pass collects it; a
// mounted one, or an upload of content stored long ago, the collector may
// take before its manifest is pushed — and the manifest's commit touches
// every blob again and checks that each exists (MANIFEST_BLOB_UNKNOWN
// otherwise, and the client uploads it again): never an accepted image
// with a missing blob.
//
// The touch is bounded by GC.BlobTouchWithin (5 s): a fleet store that
// hangs rather than refusing delays the upload by that much, no more.
func (g *Guard) touch(ctx context.Context, repo, what string, d digest.Digest) {
	if g.opts.GC.Fence == nil {
		return
	}
	tctx, cancel := context.WithTimeout(ctx, g.opts.GC.BlobTouchWithin())
	defer cancel()
	if err := g.opts.GC.Fence.Touch(tctx, gc.KindBlob, d); err != nil && ctx.Err() == nil {
		g.opts.GC.Metrics.Unreachable(what)
		g.opts.Logger.WarnContext(ctx, "touching a blob for garbage collection failed; going on (its manifest's push touches it again)",
			"repository", repo, "digest", d.String(), "for", what, "error", err.Error())
	}
}
