package quota

import (
	"context"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Item is one manifest accepted into a repository, with the blobs it
// charges: its config and layers, and the manifest itself (an index
// charges only itself: its children are manifests pushed on their own).
type Item struct {
	Repository string
	Manifest   digest.Digest
	Blobs      []Blob
}

// Charge is what one call to Charge added, so that a commit that fails
// afterwards can give it back.
type Charge struct {
	q     *Quotas
	items []Item
}

// plan is what a charge will write to one budget.
type plan struct {
	budget   Budget
	usage    usage
	version  int64
	delta    int64
	refs     map[digest.Digest]*refPlan
	repos    map[string]*repoPlan
	newRepos int64
	items    []Item // manifests not charged yet
	repoName string // the first repository, for messages
	enforce  bool   // refuse past the limits (false: Adopt)
}

type refPlan struct {
	ref     blobRef
	version int64
}

type repoPlan struct {
	ref     repoRef
	version int64
}

// Charge adds items to their budgets, all or nothing, under each
// budget's lock: a manifest already charged to its repository (a retried
// push) adds nothing; a blob the budget holds already adds nothing. When
// a budget would pass its limit nothing is charged and the error is an
// *Exceeded. Items of repositories without a quota are ignored.
func (q *Quotas) Charge(ctx context.Context, items []Item) (*Charge, error) {
	return q.charge(ctx, items, true)
}

// Adopt charges items that are stored already (Reconcile), like Charge
// but never refused: a budget may end past its limit, and then refuses
// new pushes until deletes bring it back.
func (q *Quotas) Adopt(ctx context.Context, items []Item) error {
	_, err := q.charge(ctx, items, false)
	return err
}

// charge is Charge; enforce false charges past the limits.
func (q *Quotas) charge(ctx context.Context, items []Item, enforce bool) (*Charge, error) {
	if !q.Enabled() {
		return &Charge{q: q}, nil
	}
	byBudget := map[string]*plan{}
	var keys []string
	for _, it := range items {
		b, ok := q.BudgetOf(it.Repository)
		if !ok {
			continue
		}
		p := byBudget[b.Name]
		if p == nil {
			p = &plan{budget: b, refs: map[digest.Digest]*refPlan{}, repos: map[string]*repoPlan{}, repoName: it.Repository, enforce: enforce}
			byBudget[b.Name] = p
			keys = append(keys, lockKey(b.Name))
		}
		p.items = append(p.items, it)
	}
	if len(keys) == 0 {
		return &Charge{q: q}, nil
	}
	unlock, err := q.opts.Locks.Lock(ctx, keys)
	if err != nil {
		return nil, err
	}
	plans := make([]*plan, 0, len(byBudget))
	for _, p := range byBudget {
		plans = append(plans, p)
	}
	slices.SortFunc(plans, func(a, b *plan) int { return strings.Compare(a.budget.Name, b.budget.Name) })
	c, err := q.chargeLocked(ctx, plans)
	unlock()
	if err != nil {
		// What was written before the failure is given back under the
		// locks again (Discharge takes them; they are not reentrant).
		c.Release(context.WithoutCancel(ctx))
		return nil, err
	}
	for _, p := range plans {
		q.warnIfCrossed(ctx, p.budget, p.usage.Bytes, p.usage.Bytes+p.delta, p.repoName)
	}
	return c, nil
}

// chargeLocked plans every budget, then writes every plan, under the
// budgets' locks. On an error, the returned charge holds what was written.
func (q *Quotas) chargeLocked(ctx context.Context, plans []*plan) (*Charge, error) {
	c := &Charge{q: q}
	for _, p := range plans {
		if err := q.planBudget(ctx, p); err != nil {
			return c, err
		}
	}
	for _, p := range plans {
		if err := q.apply(ctx, p); err != nil {
			c.items = append(c.items, p.items...) // partly written: Discharge tolerates what is missing
			return c, err
		}
		c.items = append(c.items, p.items...)
	}
	return c, nil
}

// planBudget reads the budget's usage and what its items would add, and
// refuses when that passes the limit.
func (q *Quotas) planBudget(ctx context.Context, p *plan) error {
	version, err := q.getUsage(ctx, p.budget.Name, &p.usage)
	if err != nil {
		return err
	}
	p.version = version
	fresh := p.items[:0]
	for _, it := range p.items {
		var done charged
		found, _, err := q.get(ctx, manifestKey(p.budget.Name, it.Repository, it.Manifest), &done)
		if err != nil {
			return err
		}
		if found || slices.ContainsFunc(fresh, func(o Item) bool { return o.Repository == it.Repository && o.Manifest == it.Manifest }) {
			continue
		}
		fresh = append(fresh, it)
		if err := q.planRepository(ctx, p, it.Repository); err != nil {
			return err
		}
		for _, b := range dedupe(it.Blobs) {
			rp := p.refs[b.Digest]
			if rp == nil {
				rp = &refPlan{}
				found, v, err := q.get(ctx, blobKey(p.budget.Name, b.Digest), &rp.ref)
				if err != nil {
					return err
				}
				rp.version = v
				if !found {
					rp.ref.Size = b.Size
					p.delta += b.Size
				}
				p.refs[b.Digest] = rp
			}
			rp.ref.Refs++
		}
	}
	p.items = fresh
	if !p.enforce {
		return nil
	}
	if p.budget.Limit > 0 && p.delta > 0 && p.usage.Bytes+p.delta > p.budget.Limit {
		return &Exceeded{Budget: p.budget, Used: p.usage.Bytes, Need: p.delta, Repository: p.repoName, What: "push"}
	}
	if p.budget.MaxRepositories > 0 && p.newRepos > 0 && p.usage.Repos+p.newRepos > p.budget.MaxRepositories {
		return &Exceeded{Budget: p.budget, Used: p.usage.Repos, Need: p.newRepos, Repository: p.repoName, What: "repository"}
	}
	return nil
}

// planRepository counts one more charged manifest in repo, and repo as
// new to the budget when it held none.
func (q *Quotas) planRepository(ctx context.Context, p *plan, repo string) error {
	rp := p.repos[repo]
	if rp == nil {
		rp = &repoPlan{}
		found, v, err := q.get(ctx, repoKey(p.budget.Name, repo), &rp.ref)
		if err != nil {
			return err
		}
		rp.version = v
		if !found {
			p.newRepos++
		}
		p.repos[repo] = rp
	}
	rp.ref.Manifests++
	return nil
}

// apply writes a checked plan: the counters first, then the blob and
// repository references, the manifests' charges last. A failure part-way
// (the fleet store) leaves the budget counting more than it holds, never
// less: a charge is discharged only once its manifest's record is written.
func (q *Quotas) apply(ctx context.Context, p *plan) error {
	if p.delta != 0 || p.newRepos != 0 {
		next := usage{Bytes: p.usage.Bytes + p.delta, Repos: p.usage.Repos + p.newRepos}
		if err := q.put(ctx, usageKey(p.budget.Name), next, p.version); err != nil {
			return err
		}
	}
	for d, rp := range p.refs {
		if err := q.put(ctx, blobKey(p.budget.Name, d), rp.ref, rp.version); err != nil {
			return err
		}
	}
	for repo, rp := range p.repos {
		if err := q.put(ctx, repoKey(p.budget.Name, repo), rp.ref, rp.version); err != nil {
			return err
		}
	}
	for _, it := range p.items {
		if err := q.put(ctx, manifestKey(p.budget.Name, it.Repository, it.Manifest), charged{Blobs: dedupe(it.Blobs)}, 0); err != nil {
			return err
		}
	}
	return nil
}

// Release gives back what c charged (a commit that failed after it). Its
// failures are logged: the usage then stays higher than stored until the
// manifest is deleted.
func (c *Charge) Release(ctx context.Context) {
	if c == nil {
		return
	}
	for _, it := range c.items {
		if err := c.q.Discharge(ctx, it.Repository, it.Manifest); err != nil {
			c.q.opts.Logger.ErrorContext(ctx, "giving back a failed push's quota charge failed", "repository", it.Repository,
				"digest", it.Manifest.String(), "error", err.Error())
		}
	}
}

// Discharge lowers repo's budget by what manifest charged there: each of
// its blobs no other charged manifest of the budget references, and the
// manifest. Deleting a manifest calls it; a manifest never charged (pushed
// before the quota existed) changes nothing.
func (q *Quotas) Discharge(ctx context.Context, repo string, manifest digest.Digest) error {
	b, ok := q.BudgetOf(repo)
	if !ok {
		return nil
	}
	unlock, err := q.opts.Locks.Lock(ctx, []string{lockKey(b.Name)})
	if err != nil {
		return err
	}
	defer unlock()
	var done charged
	mkey := manifestKey(b.Name, repo, manifest)
	found, mversion, err := q.get(ctx, mkey, &done)
	if err != nil || !found {
		return err
	}
	var freed int64
	for _, blob := range done.Blobs {
		var ref blobRef
		key := blobKey(b.Name, blob.Digest)
		found, v, err := q.get(ctx, key, &ref)
		if err != nil {
			return err
		}
		switch {
		case !found:
		case ref.Refs <= 1:
			if err := q.del(ctx, key, v); err != nil {
				return err
			}
			freed += ref.Size
		default:
			ref.Refs--
			if err := q.put(ctx, key, ref, v); err != nil {
				return err
			}
		}
	}
	if err := q.del(ctx, mkey, mversion); err != nil {
		return err
	}
	emptied, err := q.dischargeRepository(ctx, b.Name, repo)
	if err != nil || freed == 0 && !emptied {
		return err
	}
	var u usage
	v, err := q.getUsage(ctx, b.Name, &u)
	if err != nil {
		return err
	}
	u.Bytes = max(0, u.Bytes-freed)
	if emptied {
		u.Repos = max(0, u.Repos-1)
	}
	return q.put(ctx, usageKey(b.Name), u, v)
}

// dischargeRepository counts one charged manifest less in repo; emptied
// reports that it held the last one.
func (q *Quotas) dischargeRepository(ctx context.Context, budget, repo string) (emptied bool, _ error) {
	var ref repoRef
	key := repoKey(budget, repo)
	found, v, err := q.get(ctx, key, &ref)
	switch {
	case err != nil || !found:
		return false, err
	case ref.Manifests <= 1:
		return true, q.del(ctx, key, v)
	}
	ref.Manifests--
	return false, q.put(ctx, key, ref, v)
}

// dedupe drops repeated digests (an image may list a layer twice).
func dedupe(blobs []Blob) []Blob {
	out := make([]Blob, 0, len(blobs))
	for _, b := range blobs {
		if !slices.ContainsFunc(out, func(o Blob) bool { return o.Digest == b.Digest }) {
			out = append(out, b)
		}
	}
	return out
}
