package quota

import (
	"context"
	"fmt"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/docker/go-units"
	"github.com/opencontainers/go-digest"
)

// AdmitBlob checks, before a blob upload to repo completes, that its
// budget can hold size more bytes: a blob the budget holds already always
// passes. It reserves nothing — the manifest PUT charges — so it only
// stops uploads into a budget that is full already. The error is an
// *Exceeded, or the fleet store's.
func (q *Quotas) AdmitBlob(ctx context.Context, repo string, d digest.Digest, size int64) error {
	b, ok := q.BudgetOf(repo)
	if !ok || b.Limit == 0 {
		return nil
	}
	var ref blobRef
	found, _, err := q.get(ctx, blobKey(b.Name, d), &ref)
	if err != nil || found {
		return err
	}
	used, err := q.Used(ctx, b)
	if err != nil {
		return err
	}
	if used+size > b.Limit {
		return &Exceeded{Budget: b, Used: used, Need: size, Repository: repo, What: "blob"}
	}
	return nil
}

// Exceeded is a push or blob a budget cannot hold.
type Exceeded struct {
	Budget Budget
	// Used and Need are bytes, or repositories when What is "repository".
	Used, Need int64
	Repository string
	// What is "push" (a manifest PUT or upload), "blob", or "repository"
	// (the push would add a repository past MaxRepositories).
	What string
}

func (e *Exceeded) Error() string { return e.Message() }

// Message is the refusal a client prints: the budget, what it holds, what
// this push needs, its limit, and what to do.
func (e *Exceeded) Message() string {
	if e.What == "repository" {
		return fmt.Sprintf("quota of %s exceeded: %d repositories of %d allowed, and %s would be one more; delete the images of a repository in %s or ask an administrator to raise lifecycle.quotas",
			e.Budget.Name, e.Used, e.Budget.MaxRepositories, e.Repository, e.Budget.Name)
	}
	return fmt.Sprintf("quota of %s exceeded: %s used + %s in this %s > %s limit; delete images in %s or ask an administrator to raise lifecycle.quotas",
		e.Budget.Name, Size(e.Used), Size(e.Need), e.What, Size(e.Budget.Limit), e.Budget.Name)
}

// OCI is the OCI error answering e: 403 DENIED with Message, the exact
// numbers in the detail.
func (e *Exceeded) OCI() errcode.Error {
	if e.What == "repository" {
		return errcode.ErrorCodeDenied.WithMessage(e.Message()).WithDetail(map[string]any{
			"namespace": e.Budget.Name, "repositories": e.Used, "maxrepositories": e.Budget.MaxRepositories,
		})
	}
	return errcode.ErrorCodeDenied.WithMessage(e.Message()).WithDetail(map[string]any{
		"namespace": e.Budget.Name, "used": e.Used, "limit": e.Budget.Limit, "need": e.Need,
	})
}

// Size prints n bytes in binary units, as docker does ("203.5KiB").
func Size(n int64) string { return units.BytesSize(float64(n)) }
