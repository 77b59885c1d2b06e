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
// index up to date as distribution deletes manifests: a deleted manifest
// is removed from its subject's referrers. (The push pipeline indexes the
// manifests it stores.)
func ReferrersMiddleware(index *oci.Referrers) configuration.Middleware {
	return configuration.Middleware{Name: referrersName, Options: configuration.Parameters{optionReferrers: index}}
}

func initReferrers(_ context.Context, repo distribution.Repository, options map[string]any) (distribution.Repository, error) {
	index, ok := options[optionReferrers].(*oci.Referrers)
	if !ok || index == nil {
		return nil, fmt.Errorf("middleware %s: option %q must hold an *oci.Referrers (install it with ReferrersMiddleware)", referrersName, optionReferrers)
	}
	return &referrersRepository{Repository: repo, index: index}, nil
}

// referrersRepository is a repository whose manifest deletions maintain
// the referrers index.
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
