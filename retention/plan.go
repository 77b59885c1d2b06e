package retention

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/internal/repopattern"
	"github.com/imagegate/imagegate/lifecycle"
)

// Plan is what retention would delete, and keep, at At.
type Plan struct {
	At time.Time `json:"at"`
	// Repositories are those a rule governs (and the filter matches),
	// by name; a repository without tags is left out.
	Repositories []lifecycle.RepositoryPlan `json:"repositories"`
	// Truncated names what was not read whole: more than 10,000
	// repositories, a repository with more than 10,000 tags, or
	// repositories past 100,000 tags in all.
	Truncated []string `json:"truncated,omitempty"`
}

// Deletions counts the tags p deletes.
func (p Plan) Deletions() int {
	n := 0
	for _, r := range p.Repositories {
		n += len(r.Delete)
	}
	return n
}

// Plan reads the repositories matching filter (nil: all) that a rule
// governs and decides each of their tags. It writes nothing.
func (s *Service) Plan(ctx context.Context, filter *repopattern.Pattern) (Plan, error) {
	p := Plan{At: s.opts.Now().UTC(), Repositories: []lifecycle.RepositoryPlan{}}
	if !s.Enabled() {
		return p, nil
	}
	repos, more, err := s.repositories(ctx, filter)
	if err != nil {
		return Plan{}, err
	}
	if more {
		p.Truncated = append(p.Truncated, fmt.Sprintf("repositories past the first %d", maxRepositories))
	}
	since, err := s.pullsSince(ctx)
	if err != nil {
		return Plan{}, err
	}
	read := 0
	for i, repo := range repos {
		tags, cut, err := s.tags(ctx, repo)
		if err != nil {
			return Plan{}, err
		}
		if read += len(tags); read > maxPlanTags {
			p.Truncated = append(p.Truncated, fmt.Sprintf("%d repositories from %s on: past %d tags in one plan (narrow it with a repository pattern)",
				len(repos)-i, repo, maxPlanTags))
			break
		}
		if cut {
			p.Truncated = append(p.Truncated, fmt.Sprintf("%s: tags past the first %d", repo, maxTags))
		}
		if len(tags) == 0 {
			continue
		}
		known, err := s.addPulls(ctx, repo, tags)
		if err != nil {
			return Plan{}, err
		}
		repoSince := since
		if !known {
			repoSince = time.Time{} // some pulls unread: none is known missing
			p.Truncated = append(p.Truncated, fmt.Sprintf("%s: pulls past the first 100000 digests (its tags are kept as not known unpulled)", repo))
		}
		if rp, ok := s.opts.Rules.PlanWithPulls(repo, tags, s.opts.Immutable, p.At, repoSince); ok {
			p.Repositories = append(p.Repositories, rp)
		}
	}
	return p, nil
}

// repositories lists the repositories matching filter that a rule
// governs, sorted by name, at most maxRepositories; more: some were left
// (then the ones kept are the first in the storage's walk order, which
// is by object key on S3 — "team/app-web" before "team/app" — and by path
// component on the filesystem).
func (s *Service) repositories(ctx context.Context, filter *repopattern.Pattern) ([]string, bool, error) {
	var out []string
	buf := make([]string, 100)
	last := ""
	for {
		n, err := s.opts.Namespace.Repositories(ctx, buf, last)
		var empty storagedriver.PathNotFoundError
		done := errors.Is(err, io.EOF) || errors.As(err, &empty)
		if err != nil && !done {
			return nil, false, fmt.Errorf("retention: listing repositories after %q: %w", last, err)
		}
		for _, r := range buf[:n] {
			if filter != nil && !filter.Match(r) {
				continue
			}
			if _, ok := s.opts.Rules.Governs(r); !ok {
				continue
			}
			if len(out) == maxRepositories {
				slices.Sort(out)
				return out, true, nil
			}
			out = append(out, r)
		}
		if done || n == 0 {
			slices.Sort(out)
			return out, false, nil
		}
		last = buf[n-1]
	}
}

// pullsSince is when pull tracking began; zero when it has not or pulls
// are not tracked.
func (s *Service) pullsSince(ctx context.Context) (time.Time, error) {
	if s.opts.Pulls == nil {
		return time.Time{}, nil
	}
	since, ok, err := s.opts.Pulls.Since(ctx)
	if err != nil || !ok {
		return time.Time{}, err
	}
	return since, nil
}

// addPulls sets the last pull of each tag's manifest when repo's rule
// keeps pulled tags (one read of the repository's pull records); false
// when the records were too many to read whole.
func (s *Service) addPulls(ctx context.Context, repo string, tags []lifecycle.TagState) (bool, error) {
	rule, ok := s.opts.Rules.Governs(repo)
	if !ok || rule.KeepPulledDays == 0 || s.opts.Pulls == nil {
		return true, nil
	}
	recs, truncated, err := s.opts.Pulls.Lookup(ctx, repo)
	if err != nil {
		return false, fmt.Errorf("retention: reading the pulls of %s: %w", repo, err)
	}
	for i, t := range tags {
		if r, ok := recs[t.Digest.String()]; ok {
			tags[i].PulledAt = r.At.UTC()
		}
	}
	return !truncated, nil
}
