package middleware

import (
	"context"
	"fmt"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	repositorymiddleware "github.com/distribution/distribution/v3/registry/middleware/repository"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/oci"
)

const (
	referrersName   = "imagegate-referrers"
	optionReferrers = "referrers"
)

func init() {
	if err := repositorymiddleware.Register(referrersName, initReferrers); err != nil {
		panic(err)
	}
}

// ReferrersMiddleware is the distribution configuration entry that keeps
// index up to date: every stored manifest with a subject is added, every
// deleted one removed. List it before the gate, so that it sees only the
// manifests the gate let through, after they are stored.
func ReferrersMiddleware(index *oci.Referrers) configuration.Middleware {
	return configuration.Middleware{Name: referrersName, Options: configuration.Parameters{optionReferrers: index}}
}

func initReferrers(_ context.Context, repo distribution.Repository, options map[string]any) (distribution.Repository, error) {
	index, ok := options[optionReferrers].(*oci.Referrers)
	if !ok || index == nil {
		return nil, fmt.Errorf("middleware %s: option %q must hold an *oci.Referrers (install it with ReferrersMiddleware)", referrersName, optionReferrers)
	}
	return WithReferrers(repo, index), nil
}

// WithReferrers wraps repo so that its manifests keep index up to date, as
// ReferrersMiddleware does for a /v2/ request, for pushes arriving through
// another door (the tarball upload shim). Put the gate (Gate.Wrap) around
// the result, in the same order as the /v2/ middleware chain.
func WithReferrers(repo distribution.Repository, index *oci.Referrers) distribution.Repository {
	return &referrersRepository{Repository: repo, index: index}
}

// referrersRepository is a repository whose manifest service maintains the
// referrers index.
type referrersRepository struct {
	distribution.Repository
	index *oci.Referrers
}

// Manifests implements distribution.Repository.
func (r *referrersRepository) Manifests(ctx context.Context, options ...distribution.ManifestServiceOption) (distribution.ManifestService, error) {
	ms, err := r.Repository.Manifests(ctx, options...)
	if err != nil {
		return nil, err
	}
	return &referrersManifests{ManifestService: ms, repo: r}, nil
}

type referrersManifests struct {
	distribution.ManifestService
	repo *referrersRepository
}

// Put stores the manifest, then indexes it under its subject, if it has
// one, by the digest the client pushed it as. A failure to index fails the
// push (the manifest is stored; the client's retry indexes it).
func (m *referrersManifests) Put(ctx context.Context, man distribution.Manifest, options ...distribution.ManifestServiceOption) (digest.Digest, error) {
	dgst, err := m.ManifestService.Put(ctx, man, options...)
	if err != nil {
		return dgst, err
	}
	mediaType, payload, err := man.Payload()
	if err != nil {
		return dgst, fmt.Errorf("referrers: reading manifest payload: %w", err)
	}
	indexed := dgst
	if d, ok := oci.PushedDigest(ctx); ok {
		indexed = d
	}
	if subject, desc, ok := oci.DescribeReferrer(mediaType, payload, indexed); ok {
		if err := m.repo.index.Add(ctx, m.repo.Named().Name(), subject, desc); err != nil {
			return dgst, err
		}
	}
	return dgst, nil
}

// Delete deletes the manifest, then removes it from its subject's referrers.
func (m *referrersManifests) Delete(ctx context.Context, dgst digest.Digest) error {
	var subject digest.Digest
	if man, err := m.ManifestService.Get(ctx, dgst); err == nil {
		if _, payload, err := man.Payload(); err == nil {
			subject, _ = oci.Subject(payload)
		}
	}
	if err := m.ManifestService.Delete(ctx, dgst); err != nil {
		return err
	}
	if subject == "" {
		return nil
	}
	name := m.repo.Named().Name()
	if err := m.repo.index.Remove(ctx, name, subject, dgst); err != nil {
		return err
	}
	if d, ok := oci.PushedDigest(ctx); ok {
		return m.repo.index.Remove(ctx, name, subject, d)
	}
	return nil
}

// recordedDigest is the digest the gate recorded the push of manifest d
// under: its canonical (sha256) digest. A manifest pushed by a digest of
// another algorithm (sha512) is read through ms to compute it; d itself
// when it cannot be read.
func recordedDigest(ctx context.Context, ms distribution.ManifestService, d digest.Digest) digest.Digest {
	if d.Algorithm() == digest.Canonical {
		return d
	}
	man, err := ms.Get(ctx, d)
	if err != nil {
		return d
	}
	_, payload, err := man.Payload()
	if err != nil {
		return d
	}
	return digest.FromBytes(payload)
}
