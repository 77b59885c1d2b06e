package push

import (
	"context"
	"errors"
	"fmt"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/oci"
)

// store puts x's manifest into the repository through distribution's
// manifest service, which checks once more that every blob and child it
// references is there, and files it under its canonical digest.
func (p *Pipeline) store(ctx context.Context, x *Push) error {
	ms, err := x.repo.Manifests(ctx)
	if err != nil {
		return fmt.Errorf("push: manifests of %s: %w", x.Repository, err)
	}
	existed, err := ms.Exists(ctx, x.canonical)
	if err != nil {
		return fmt.Errorf("push: checking manifest %s: %w", x.canonical, err)
	}
	if _, err := ms.Put(ctx, x.manifest); err != nil {
		return err
	}
	x.stored = !existed
	return nil
}

// link completes a stored manifest: the client's sha512 digest linked to
// the canonical one, and the manifest indexed as a referrer of its subject
// (under the digest the client pushed it as).
func (p *Pipeline) link(ctx context.Context, x *Push) error {
	if x.aliased() && p.opts.Aliases != nil {
		if err := p.opts.Aliases.LinkManifest(ctx, x.Repository, x.Digest, x.canonical); err != nil {
			return err
		}
	}
	if _, ok := x.subject(); !ok || p.opts.Referrers == nil {
		return nil
	}
	if subject, desc, ok := oci.DescribeReferrer(x.MediaType, x.Payload, x.tagDigest()); ok {
		return p.opts.Referrers.Add(ctx, x.Repository, subject, desc)
	}
	return nil
}

// unstore deletes the manifest a failed commit created, with its links.
func (p *Pipeline) unstore(ctx context.Context, x *Push) error {
	if x.aliased() && p.opts.Aliases != nil {
		if err := p.opts.Aliases.UnlinkManifest(ctx, x.Repository, x.Digest); err != nil {
			return err
		}
	}
	if p.opts.Referrers != nil {
		if subject, ok := x.subject(); ok {
			if err := p.opts.Referrers.Remove(ctx, x.Repository, subject, x.tagDigest()); err != nil {
				return err
			}
		}
	}
	ms, err := x.repo.Manifests(ctx)
	if err != nil {
		return err
	}
	if err := ms.Delete(ctx, x.canonical); err != nil {
		return err
	}
	p.unindex(ctx, x)
	return nil
}

// storeError turns what distribution's manifest service returned into the
// OCI error its handler would have answered.
func storeError(err error) error {
	if _, ok := asRefusal(err); ok {
		return err
	}
	switch {
	case errors.Is(err, distribution.ErrUnsupported):
		return errcode.ErrorCodeUnsupported
	case errors.Is(err, distribution.ErrAccessDenied):
		return errcode.ErrorCodeDenied
	}
	var verr distribution.ErrManifestVerification
	if errors.As(err, &verr) {
		errs := errcode.Errors{}
		for _, e := range verr {
			var blob distribution.ErrManifestBlobUnknown
			var name distribution.ErrManifestNameInvalid
			switch {
			case errors.As(e, &blob):
				errs = append(errs, errcode.ErrorCodeManifestBlobUnknown.WithDetail(blob.Digest))
			case errors.As(e, &name):
				errs = append(errs, errcode.ErrorCodeNameInvalid.WithDetail(e.Error()))
			case errors.Is(e, digest.ErrDigestInvalidFormat):
				errs = append(errs, errcode.ErrorCodeDigestInvalid)
			default:
				errs = append(errs, errcode.ErrorCodeManifestInvalid.WithDetail(e.Error()))
			}
		}
		return errs
	}
	return err
}
