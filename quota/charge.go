package quota

import (
	"context"
	"slices"

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
	used     int64
	version  int64
	delta    int64
	refs     map[digest.Digest]*refPlan
	items    []Item // manifests not charged yet
	repoName string // the first repository, for messages
}

type refPlan struct {
	ref     blobRef
	version int64
}

// Charge adds items to their budgets, all or nothing, under each
// budget's lock: a manifest already charged to its repository (a retried
// push) adds nothing; a blob the budget holds already adds nothing. When
// a budget would pass its limit nothing is charged and the error is an
// *Exceeded. Items of repositories without a quota are ignored.
func (q *Quotas) Charge(ctx context.Context, items []Item) (*Charge, error) {
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
			p = &plan{budget: b, refs: map[digest.Digest]*refPlan{}, repoName: it.Repository}
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
	defer unlock()
	names := make([]string, 0, len(byBudget))
	for n := range byBudget {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := q.planBudget(ctx, byBudget[n]); err != nil {
			return nil, err
		}
	}
	c := &Charge{q: q}
	for _, n := range names {
		p := byBudget[n]
		if err := q.apply(ctx, p); err != nil {
			c.Release(context.WithoutCancel(ctx))
			return nil, err
		}
		c.items = append(c.items, p.items...)
		q.warnIfCrossed(ctx, p.budget, p.used, p.used+p.delta, p.repoName)
	}
	return c, nil
}

// planBudget reads the budget's usage and what its items would add, and
// refuses when that passes the limit.
func (q *Quotas) planBudget(ctx context.Context, p *plan) error {
	var u usage
	_, version, err := q.get(ctx, usageKey(p.budget.Name), &u)
	if err != nil {
		return err
	}
	p.used, p.version = u.Bytes, version
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
	if p.delta > 0 && p.used+p.delta > p.budget.Limit {
		return &Exceeded{Budget: p.budget, Used: p.used, Need: p.delta, Repository: p.repoName, What: "push"}
	}
	return nil
}

// apply writes a checked plan: blob references, the manifests' charges,
// then the counter.
func (q *Quotas) apply(ctx context.Context, p *plan) error {
	for d, rp := range p.refs {
		if err := q.put(ctx, blobKey(p.budget.Name, d), rp.ref, rp.version); err != nil {
			return err
		}
	}
	for _, it := range p.items {
		if err := q.put(ctx, manifestKey(p.budget.Name, it.Repository, it.Manifest), charged{Blobs: dedupe(it.Blobs)}, 0); err != nil {
			return err
		}
	}
	if p.delta == 0 {
		return nil
	}
	return q.put(ctx, usageKey(p.budget.Name), usage{Bytes: p.used + p.delta}, p.version)
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
	if freed == 0 {
		return nil
	}
	var u usage
	_, v, err := q.get(ctx, usageKey(b.Name), &u)
	if err != nil {
		return err
	}
	u.Bytes = max(0, u.Bytes-freed)
	return q.put(ctx, usageKey(b.Name), u, v)
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
