// Package quota bounds the bytes each namespace stores (lifecycle.quotas,
// docs/lifecycle.md). What counts: the unique blobs (layers, configs) and
// the manifests of the images accepted into a budget, each digest once per
// budget however many of its repositories or images reference it. A
// budget is a namespace (the repository name up to the first "/") or a
// configured pattern shared by every repository it matches.
//
// Usage lives in the fleet store (space "quota"), so replicas share it: a
// counter per budget, a reference count per (budget, blob), and the blobs
// each (repository, manifest) charged. Charges and discharges of a budget
// run under its lock (the push pipeline's fleet locks, key
// "quota:<budget>"), so the check and the increment are one step on every
// replica: concurrent pushers never take a budget past its limit. Blobs
// uploaded but never referenced by an accepted manifest are not counted
// (garbage collection removes them); a blob upload is refused when the
// budget is already too full to hold it.
package quota

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/internal/repopattern"
)

// Rule is one configured quota.
type Rule struct {
	// Repositories is a repository pattern (internal/repopattern).
	Repositories string
	// Shared: every matching repository shares one budget named by the
	// pattern; otherwise each namespace of a matching repository has its own.
	Shared bool
	// MaxBytes is the budget's limit in bytes; 0: none.
	MaxBytes int64
	// MaxRepositories bounds the repositories holding a charged manifest
	// in the budget; 0: none.
	MaxRepositories int64
}

// Locker serialises the charges of a budget across replicas (the push
// pipeline's TagLocks satisfy it).
type Locker interface {
	Lock(ctx context.Context, keys []string) (unlock func(), err error)
}

// Warning is a budget that passed its warning share.
type Warning struct {
	Budget       string
	Used, Limit  int64
	Percent      int // of the limit, now
	ThresholdPct int
	Repository   string // the push that passed it
}

// Options configure Quotas.
type Options struct {
	Rules []Rule
	Store fleet.Store
	Locks Locker
	// WarnPercent is the share past which Warn is told (default 80).
	WarnPercent int
	// Warn, when set, is told when a charge takes a budget past
	// WarnPercent (once per crossing); a log line is written too.
	Warn   func(ctx context.Context, w Warning)
	Logger *slog.Logger
}

// Quotas checks and keeps the usage of budgets. The nil *Quotas limits
// nothing. It is safe for concurrent use.
type Quotas struct {
	opts  Options
	rules []rule
}

type rule struct {
	repos    repopattern.Pattern
	shared   bool
	max      int64
	maxRepos int64
}

// New compiles opts.Rules.
func New(opts Options) (*Quotas, error) {
	if opts.Store == nil || opts.Locks == nil {
		return nil, fmt.Errorf("quota: a fleet store and locks are required")
	}
	if opts.WarnPercent <= 0 || opts.WarnPercent > 100 {
		opts.WarnPercent = 80
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	q := &Quotas{opts: opts}
	for i, r := range opts.Rules {
		p, err := repopattern.Compile(r.Repositories)
		if err != nil {
			return nil, fmt.Errorf("lifecycle.quotas[%d].repositories: %w", i, err)
		}
		if r.MaxBytes < 0 || r.MaxRepositories < 0 || r.MaxBytes == 0 && r.MaxRepositories == 0 {
			return nil, fmt.Errorf("lifecycle.quotas[%d]: maxbytes or maxrepositories must be set, neither negative", i)
		}
		q.rules = append(q.rules, rule{repos: p, shared: r.Shared, max: r.MaxBytes, maxRepos: r.MaxRepositories})
	}
	return q, nil
}

// Budget is where a repository's bytes count.
type Budget struct {
	// Name is the namespace, or the pattern of a shared quota.
	Name string
	// Limit is its limit in bytes; MaxRepositories on the repositories
	// holding charged manifests. 0: none.
	Limit, MaxRepositories int64
}

// BudgetOf returns the budget of repo under the first matching rule.
func (q *Quotas) BudgetOf(repo string) (Budget, bool) {
	if q == nil {
		return Budget{}, false
	}
	for _, r := range q.rules {
		if !r.repos.Match(repo) {
			continue
		}
		if r.shared {
			return Budget{Name: r.repos.String(), Limit: r.max, MaxRepositories: r.maxRepos}, true
		}
		return Budget{Name: Namespace(repo), Limit: r.max, MaxRepositories: r.maxRepos}, true
	}
	return Budget{}, false
}

// Enabled reports whether any quota is configured.
func (q *Quotas) Enabled() bool { return q != nil && len(q.rules) > 0 }

// Namespace is repo up to its first "/" (all of it when it has none).
func Namespace(repo string) string {
	for i := 0; i < len(repo); i++ {
		if repo[i] == '/' {
			return repo[:i]
		}
	}
	return repo
}

// Blob is content a manifest charges: a layer, a config, or the manifest.
type Blob struct {
	Digest digest.Digest `json:"d"`
	Size   int64         `json:"s"`
}

// lockKey is the lock of budget name.
func lockKey(name string) string { return "quota:" + name }
