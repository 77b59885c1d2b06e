package push

import (
	"context"
	"errors"
	"fmt"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
)

// checkTagLimit refuses a commit that would create new tags in a
// repository already holding Options.TagsPerRepository tags (0: no
// limit), under the commit's lock, after readMoves: a tag is new when it
// named nothing there. Re-pointing an existing tag is always allowed, so
// a repository at its limit still takes pushes to its tags. Every tag list
// (tags/list, the API, the UI, retention's plan) reads all of a
// repository's tag names, so the limit bounds what one list costs.
//
// Counting is one ts.All per repository that gains a tag — the driver's
// List of the tags directory, one S3 request per 1,000 names; a commit
// creating no tag reads nothing more. The bound is soft across commits:
// the lock is per tag, so commits creating different tags in the same
// repository at the same moment each count the tags before the others',
// and the repository can end past its limit by the new tags in flight.
func (p *Pipeline) checkTagLimit(ctx context.Context, pushes []*Push) error {
	max := p.opts.TagsPerRepository
	if max <= 0 {
		return nil
	}
	created := newTags(pushes)
	for _, x := range pushes {
		fresh := created[x.Repository]
		if len(fresh) == 0 {
			continue
		}
		delete(created, x.Repository) // one count per repository
		held, err := countTags(ctx, x.repo)
		if err != nil {
			p.logger.WarnContext(ctx, "counting the tags of a repository failed", "repository", x.Repository, "error", err.Error())
			p.committed(pushes, OutcomeFailed, ReasonStorage)
			return err
		}
		if held+len(fresh) <= max {
			continue
		}
		refusal := tagLimitRefusal(x.Repository, fresh, held, max)
		p.refuseCommit(ctx, pushes, x, refusal, ReasonLimits)
		return refusal
	}
	return nil
}

// newTags returns, per repository, the distinct tags the commit creates:
// those its moves (readMoves) found naming nothing.
func newTags(pushes []*Push) map[string][]string {
	created := map[string][]string{}
	seen := map[[2]string]bool{}
	for _, x := range pushes {
		for _, m := range x.moved {
			key := [2]string{x.Repository, m.tag}
			if m.prev.Digest != "" || seen[key] {
				continue
			}
			seen[key] = true
			created[x.Repository] = append(created[x.Repository], m.tag)
		}
	}
	return created
}

// countTags returns how many tags repo holds: 0 for a repository without
// any (distribution answers ErrRepositoryUnknown).
func countTags(ctx context.Context, repo distribution.Repository) (int, error) {
	all, err := repo.Tags(ctx).All(ctx)
	if _, unknown := errors.AsType[distribution.ErrRepositoryUnknown](err); unknown {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("push: counting the tags of %s: %w", repo.Named().Name(), err)
	}
	return len(all), nil
}

// tagLimitRefusal is the 403 DENIED a pusher sees: the limit, the count
// and what to do, with the detail {limit, max, actual} of the other
// count limits (actual: the tags the repository would hold).
func tagLimitRefusal(repo string, fresh []string, held, max int) errcode.Error {
	what := fmt.Sprintf("new tag %q", fresh[0])
	if len(fresh) > 1 {
		what = fmt.Sprintf("%d new tags (%q, …)", len(fresh), fresh[0])
	}
	holds := fmt.Sprintf("%d tags", held)
	if held == 1 {
		holds = "1 tag"
	}
	msg := fmt.Sprintf("repository %s holds %s and may hold at most %d (limits.tagsperrepository): %s refused; "+
		"pushing to an existing tag still works — delete tags you no longer need (a lifecycle.retention rule can do it) "+
		"or ask the registry's operator to raise the limit", repo, holds, max, what)
	return errcode.ErrorCodeDenied.WithMessage(msg).
		WithDetail(map[string]any{"limit": "tagsperrepository", "max": max, "actual": held + len(fresh)})
}
