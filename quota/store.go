package quota

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/fleet"
)

// space is the fleet space of every quota item.
const space = "quota"

// usage is a budget's counters.
type usage struct {
	Bytes int64 `json:"bytes"`
	// Repos are the repositories holding a charged manifest.
	Repos int64 `json:"repos,omitempty"`
}

// repoRef is how many charged manifests a repository holds in a budget.
type repoRef struct {
	Manifests int64 `json:"manifests"`
}

// blobRef is how many charged manifests of a budget reference a blob.
type blobRef struct {
	Refs int64 `json:"refs"`
	Size int64 `json:"size"`
}

// charged is what one (repository, manifest) charged its budget.
type charged struct {
	Blobs []Blob `json:"blobs"`
}

func usageKey(budget string) string { return "u/" + hashed(budget) }

func blobKey(budget string, d digest.Digest) string {
	return "b/" + hashed(budget+"\x00"+d.String())
}

func repoKey(budget, repo string) string { return "r/" + hashed(budget+"\x00"+repo) }

func manifestKey(budget, repo string, d digest.Digest) string {
	return "m/" + hashed(budget+"\x00"+repo+"@"+d.String())
}

// hashed keeps keys within fleet.MaxKeyBytes whatever the names' lengths.
func hashed(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// get reads key into v; found false when absent. It returns the version
// to write against.
func (q *Quotas) get(ctx context.Context, key string, v any) (found bool, version int64, err error) {
	it, err := q.opts.Store.Get(ctx, space, key)
	if errors.Is(err, fleet.ErrNotFound) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, fmt.Errorf("quota: reading %s: %w", key, err)
	}
	if err := json.Unmarshal(it.Value, v); err != nil {
		return false, 0, fmt.Errorf("quota: decoding %s: %w", key, err)
	}
	return true, it.Version, nil
}

// put writes v under key, expecting version (the caller holds the budget's
// lock, so a conflict means the lock was lost: an error).
func (q *Quotas) put(ctx context.Context, key string, v any, version int64) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := q.opts.Store.Put(ctx, space, key, b, version, 0); err != nil {
		return fmt.Errorf("quota: writing %s: %w", key, err)
	}
	return nil
}

func (q *Quotas) del(ctx context.Context, key string, version int64) error {
	if err := q.opts.Store.Delete(ctx, space, key, version); err != nil {
		return fmt.Errorf("quota: deleting %s: %w", key, err)
	}
	return nil
}

// getUsage reads budget's counters into u and returns their version.
func (q *Quotas) getUsage(ctx context.Context, budget string, u *usage) (int64, error) {
	_, version, err := q.get(ctx, usageKey(budget), u)
	return version, err
}

// Used returns the bytes budget b holds.
func (q *Quotas) Used(ctx context.Context, b Budget) (int64, error) {
	var u usage
	_, _, err := q.get(ctx, usageKey(b.Name), &u)
	return u.Bytes, err
}

// Repositories returns how many repositories hold charged manifests in b.
func (q *Quotas) Repositories(ctx context.Context, b Budget) (int64, error) {
	var u usage
	_, _, err := q.get(ctx, usageKey(b.Name), &u)
	return u.Repos, err
}

// Usage is what a repository's budget holds, against its limits.
type Usage struct {
	// Budget is the namespace, or a shared quota's pattern.
	Budget          string `json:"budget"`
	UsedBytes       int64  `json:"used_bytes"`
	LimitBytes      int64  `json:"limit_bytes,omitempty"`
	Repositories    int64  `json:"repositories"`
	MaxRepositories int64  `json:"max_repositories,omitempty"`
}

// UsageOf returns the usage of repo's budget; false when repo has no quota.
func (q *Quotas) UsageOf(ctx context.Context, repo string) (Usage, bool, error) {
	b, ok := q.BudgetOf(repo)
	if !ok {
		return Usage{}, false, nil
	}
	var u usage
	if _, err := q.getUsage(ctx, b.Name, &u); err != nil {
		return Usage{}, true, err
	}
	return Usage{Budget: b.Name, UsedBytes: u.Bytes, LimitBytes: b.Limit, Repositories: u.Repos, MaxRepositories: b.MaxRepositories}, true, nil
}
