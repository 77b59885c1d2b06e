package middleware

import (
	"context"
	"errors"
	"fmt"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// knownTags answers All alike on every storage driver: a repository that
// holds a manifest but no tag has no tags ([]), one that holds no manifest
// is unknown (distribution.ErrRepositoryUnknown).
//
// distribution's All lists the tags directory and calls a missing one an
// unknown repository. On the filesystem, deleting a repository's last tag
// leaves the empty directory (tags/list answered 200 with no tags, even
// once every manifest was deleted too); S3 has no directories, so the same
// deletion made the repository unknown there (404 NAME_UNKNOWN) although
// it still held manifests and the catalog listed it.
type knownTags struct {
	distribution.TagService
	name reference.Named
	// ns is the storage the repository lives in, enumerable (the request's
	// repository hides distribution's ManifestEnumerator).
	ns distribution.Namespace
}

// All implements distribution.TagService. Only an empty answer costs more
// than distribution's: one enumeration of the repository's manifests, up
// to the first.
func (k knownTags) All(ctx context.Context) ([]string, error) {
	tags, err := k.TagService.All(ctx)
	if _, unknown := errors.AsType[distribution.ErrRepositoryUnknown](err); (err != nil && !unknown) || len(tags) > 0 {
		return tags, err
	}
	held, herr := holdsManifest(ctx, k.ns, k.name)
	switch {
	case herr != nil:
		return nil, herr
	case held:
		return []string{}, nil
	}
	return nil, distribution.ErrRepositoryUnknown{Name: k.name.Name()}
}

// errFound stops an enumeration at its first manifest.
var errFound = errors.New("middleware: a manifest is stored")

// holdsManifest reports whether the repository name of ns holds a
// manifest.
func holdsManifest(ctx context.Context, ns distribution.Namespace, name reference.Named) (bool, error) {
	repo, err := ns.Repository(ctx, name)
	if err != nil {
		return false, fmt.Errorf("middleware: opening %s: %w", name.Name(), err)
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return false, fmt.Errorf("middleware: opening the manifests of %s: %w", name.Name(), err)
	}
	en, ok := ms.(distribution.ManifestEnumerator)
	if !ok {
		return false, fmt.Errorf("middleware: the manifests of %s cannot be enumerated", name.Name())
	}
	found := false
	err = en.Enumerate(ctx, func(digest.Digest) error {
		found = true
		return errFound
	})
	_, noRepo := errors.AsType[distribution.ErrRepositoryUnknown](err)
	_, noDir := errors.AsType[storagedriver.PathNotFoundError](err)
	if found || err == nil || noRepo || noDir {
		return found, nil
	}
	return false, fmt.Errorf("middleware: enumerating the manifests of %s: %w", name.Name(), err)
}
