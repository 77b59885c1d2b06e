package retention

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"

	"github.com/imagegate/imagegate/lifecycle"
)

// repositoriesRoot is where distribution keeps repositories in the driver.
const repositoriesRoot = "/docker/registry/v2/repositories"

// linkPath is the object holding the digest tag of repo names; its
// modification time is when the tag was last written.
func linkPath(repo, tag string) string {
	return path.Join(repositoriesRoot, repo, "_manifests", "tags", tag, "current", "link")
}

// repository opens repo in the namespace.
func (s *Service) repository(ctx context.Context, repo string) (distribution.Repository, error) {
	named, err := reference.WithName(repo)
	if err != nil {
		return nil, fmt.Errorf("retention: repository name %q: %w", repo, err)
	}
	r, err := s.opts.Namespace.Repository(ctx, named)
	if err != nil {
		return nil, fmt.Errorf("retention: opening %s: %w", repo, err)
	}
	return r, nil
}

// tags reads repo's tags (the first maxTags by name; cut: there were
// more), each with the digest it names and when it was last written. A
// tag removed while reading is left out.
func (s *Service) tags(ctx context.Context, repo string) (out []lifecycle.TagState, cut bool, err error) {
	r, err := s.repository(ctx, repo)
	if err != nil {
		return nil, false, err
	}
	ts := r.Tags(ctx)
	names, err := ts.All(ctx)
	var unknown distribution.ErrRepositoryUnknown
	if errors.As(err, &unknown) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("retention: listing tags of %s: %w", repo, err)
	}
	slices.Sort(names)
	cut = len(names) > maxTags
	for _, t := range names[:min(len(names), maxTags)] {
		desc, err := ts.Get(ctx, t)
		var gone distribution.ErrTagUnknown
		if errors.As(err, &gone) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("retention: reading tag %s:%s: %w", repo, t, err)
		}
		fi, err := s.opts.Driver.Stat(ctx, linkPath(repo, t))
		var missing storagedriver.PathNotFoundError
		if errors.As(err, &missing) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("retention: reading when %s:%s was pushed: %w", repo, t, err)
		}
		out = append(out, lifecycle.TagState{Tag: t, Digest: desc.Digest, PushedAt: fi.ModTime().UTC()})
	}
	return out, cut, nil
}
