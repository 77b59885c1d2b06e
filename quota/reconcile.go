package quota

import (
	"context"
	"errors"
	"fmt"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/manifest/manifestlist"
	"github.com/distribution/distribution/v3/manifest/ocischema"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// Reconciled is what one Reconcile found.
type Reconciled struct {
	Repositories, Manifests int
	// Adopted are the manifests that were stored but not charged.
	Adopted int
}

// Reconcile charges every manifest stored in ns, in a repository with a
// quota, that is not charged yet: content pushed before the quota was
// configured, or while charging failed. A manifest already charged adds
// nothing, so it may run at any time, beside pushes, on any replica
// (Server runs it on one at a time, daily). It never refuses (Adopt) and
// never lowers usage. ns must enumerate its repositories and manifests
// (distribution's storage does).
func (q *Quotas) Reconcile(ctx context.Context, ns distribution.Namespace) (Reconciled, error) {
	var out Reconciled
	if !q.Enabled() {
		return out, nil
	}
	repos, ok := ns.(distribution.RepositoryEnumerator)
	if !ok {
		return out, errors.New("quota: the namespace cannot enumerate its repositories")
	}
	err := repos.Enumerate(ctx, func(name string) error {
		if _, ok := q.BudgetOf(name); !ok {
			return nil
		}
		out.Repositories++
		n, adopted, err := q.reconcileRepository(ctx, ns, name)
		out.Manifests += n
		out.Adopted += adopted
		return err
	})
	return out, err
}

// reconcileRepository adopts the uncharged manifests of one repository.
func (q *Quotas) reconcileRepository(ctx context.Context, ns distribution.Namespace, name string) (seen, adopted int, _ error) {
	named, err := reference.WithName(name)
	if err != nil {
		return 0, 0, fmt.Errorf("quota: repository %q: %w", name, err)
	}
	repo, err := ns.Repository(ctx, named)
	if err != nil {
		return 0, 0, fmt.Errorf("quota: opening %s: %w", name, err)
	}
	ms, err := repo.Manifests(ctx)
	if err != nil {
		return 0, 0, err
	}
	en, ok := ms.(distribution.ManifestEnumerator)
	if !ok {
		return 0, 0, fmt.Errorf("quota: the manifests of %s cannot be enumerated", name)
	}
	b, _ := q.BudgetOf(name)
	err = en.Enumerate(ctx, func(d digest.Digest) error {
		seen++
		var done charged
		found, _, err := q.get(ctx, manifestKey(b.Name, name, d), &done)
		if err != nil || found {
			return err
		}
		m, err := ms.Get(ctx, d)
		if err != nil {
			return nil // a manifest removed meanwhile, or unreadable: the next run sees it
		}
		if err := q.Adopt(ctx, []Item{itemOf(name, d, m)}); err != nil {
			return err
		}
		adopted++
		return nil
	})
	return seen, adopted, err
}

// itemOf is what a stored manifest charges: itself, and an image's
// config and layers (an index's children are manifests of their own).
func itemOf(repo string, d digest.Digest, m distribution.Manifest) Item {
	_, payload, _ := m.Payload()
	it := Item{Repository: repo, Manifest: d, Blobs: []Blob{{Digest: d, Size: int64(len(payload))}}}
	switch m.(type) {
	case *manifestlist.DeserializedManifestList, *ocischema.DeserializedImageIndex:
		return it
	}
	for _, ref := range m.References() {
		it.Blobs = append(it.Blobs, Blob{Digest: ref.Digest, Size: ref.Size})
	}
	return it
}
