package registry

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"

	"github.com/imagegate/imagegate/api"
	"github.com/imagegate/imagegate/internal/tagpage"
	"github.com/imagegate/imagegate/pulls"
)

// catalogSource is the API's Catalog over distribution's namespace: the
// same storage /v2/_catalog and /v2/<name>/tags/list read.
type catalogSource struct {
	ns distribution.Namespace
	// pulls reads the last pull of each manifest; nil: not tracked.
	pulls *pulls.Reader
}

// Repositories implements api.Catalog.
func (c catalogSource) Repositories(ctx context.Context, last string, n int) ([]string, bool, error) {
	buf := make([]string, n)
	got, err := c.ns.Repositories(ctx, buf, last)
	var empty storagedriver.PathNotFoundError
	if errors.Is(err, io.EOF) || errors.As(err, &empty) { // nothing pushed yet: no repositories directory
		return buf[:got], false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("registry: listing repositories after %q: %w", last, err)
	}
	return buf[:got], true, nil
}

// Tags implements api.Catalog: the names come from one listing of the
// tags directory (tagpage), then one storage read per tag of the page.
func (c catalogSource) Tags(ctx context.Context, repo, last string, n int) ([]api.Tag, bool, error) {
	named, err := reference.WithName(repo)
	if err != nil {
		return nil, false, fmt.Errorf("registry: repository name %q: %w", repo, err)
	}
	r, err := c.ns.Repository(ctx, named)
	if err != nil {
		return nil, false, fmt.Errorf("registry: opening %s: %w", repo, err)
	}
	ts := r.Tags(ctx)
	names, err := tagpage.List(ctx, ts, n, last)
	more := err == nil
	var unknown distribution.ErrRepositoryUnknown
	switch {
	case errors.As(err, &unknown):
		return nil, false, nil
	case err != nil && !errors.Is(err, io.EOF):
		return nil, false, fmt.Errorf("registry: listing tags of %s: %w", repo, err)
	}
	out := make([]api.Tag, 0, len(names))
	for _, t := range names {
		d, err := ts.Get(ctx, t)
		var gone distribution.ErrTagUnknown
		if errors.As(err, &gone) {
			continue // untagged meanwhile
		}
		if err != nil {
			return nil, false, fmt.Errorf("registry: reading tag %s:%s: %w", repo, t, err)
		}
		out = append(out, api.Tag{Name: t, Digest: d.Digest})
	}
	if c.pulls == nil || len(out) == 0 {
		return out, more, nil
	}
	recs, _, err := c.pulls.Lookup(ctx, repo)
	if err != nil {
		return nil, false, fmt.Errorf("registry: reading the last pulls of %s: %w", repo, err)
	}
	for i, t := range out {
		if r, ok := recs[t.Digest.String()]; ok {
			out[i].LastPulledAt, out[i].LastPulledTag = r.At.UTC(), r.Tag
		}
	}
	return out, more, nil
}

var _ api.Catalog = catalogSource{}
