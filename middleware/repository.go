package middleware

import (
	"context"

	"github.com/distribution/distribution/v3"
	"github.com/opencontainers/go-digest"
)

// repository is one request's view of a repository through the guard.
type repository struct {
	distribution.Repository
	guard *Guard
	// deleting is the manifest this request deletes: the tag removals
	// that follow belong to its record, not to records of their own.
	deleting digest.Digest
}

// Manifests implements distribution.Repository.
func (r *repository) Manifests(ctx context.Context, options ...distribution.ManifestServiceOption) (distribution.ManifestService, error) {
	ms, err := r.Repository.Manifests(ctx, options...)
	if err != nil {
		return nil, err
	}
	return &manifestService{ManifestService: ms, repo: r}, nil
}

// Blobs implements distribution.Repository: with a quota, uploads are
// checked before they complete.
func (r *repository) Blobs(ctx context.Context) distribution.BlobStore {
	bs := r.Repository.Blobs(ctx)
	if !r.guard.opts.Quotas.Enabled() && r.guard.opts.GC.Fence == nil {
		return bs
	}
	return &blobStore{BlobStore: bs, repo: r}
}

// Tags implements distribution.Repository.
func (r *repository) Tags(ctx context.Context) distribution.TagService {
	ts := r.Repository.Tags(ctx)
	if ns := r.guard.opts.Namespace; ns != nil {
		ts = knownTags{TagService: ts, name: r.Named(), ns: ns}
	}
	return &tagService{TagService: ts, repo: r}
}
