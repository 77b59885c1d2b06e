package retention

import (
	"context"
	"errors"
	"fmt"

	"github.com/distribution/distribution/v3"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/internal/repopattern"
	"github.com/imagegate/imagegate/lifecycle"
)

// Deletion is one tag Apply deleted.
type Deletion struct {
	Repository string        `json:"repository"`
	Tag        string        `json:"tag"`
	Digest     digest.Digest `json:"digest"`
	Why        string        `json:"why"`
	// ManifestDeleted: the rule says untagged: delete and no tag named
	// the manifest any more, so it was deleted too.
	ManifestDeleted bool `json:"manifest_deleted,omitempty"`
}

// Skip is a planned deletion Apply did not make, and why: the tag moved
// or went since the plan, or the deletion path refused it.
type Skip struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	Why        string `json:"why"`
}

// Result is what one Apply did.
type Result struct {
	Deleted []Deletion `json:"deleted"`
	Skipped []Skip     `json:"skipped"`
	// Remaining counts planned deletions past MaxDeletions: call again.
	Remaining int `json:"remaining"`
}

// Apply plans (as Plan) and deletes the planned tags, at most
// MaxDeletions, each through the guard (Options.Guard) with the plan's
// reason as the deletion record's reason, and logs each. It is
// idempotent: a retry plans again, and what was deleted is no longer
// planned. A tag that names another digest than planned is skipped.
func (s *Service) Apply(ctx context.Context, filter *repopattern.Pattern) (Result, error) {
	res := Result{Deleted: []Deletion{}, Skipped: []Skip{}}
	if s.opts.Guard == nil {
		return res, errors.New("retention: no deletion path configured")
	}
	p, err := s.Plan(ctx, filter)
	if err != nil {
		return res, err
	}
	for _, rp := range p.Repositories {
		for _, v := range rp.Delete {
			if len(res.Deleted)+len(res.Skipped) == s.opts.MaxDeletions {
				res.Remaining++
				continue
			}
			d, skip, err := s.delete(ctx, rp, v)
			switch {
			case err != nil:
				return res, err
			case skip != "":
				res.Skipped = append(res.Skipped, Skip{Repository: rp.Repository, Tag: v.Tag, Why: skip})
			default:
				res.Deleted = append(res.Deleted, d)
			}
		}
	}
	return res, nil
}

// delete untags v in rp's repository (and deletes the manifest when the
// rule says so and no tag names it any more): the deletion, or why it was
// skipped, or an error reading storage.
func (s *Service) delete(ctx context.Context, rp lifecycle.RepositoryPlan, v lifecycle.Verdict) (Deletion, string, error) {
	repo := rp.Repository
	why := fmt.Sprintf("retention: %s: %s", rp.Rule, v.Why)
	ctx = lifecycle.WithCause(ctx, why)
	r, err := s.repository(ctx, repo)
	if err != nil {
		return Deletion{}, "", err
	}
	ts := s.opts.Guard(r).Tags(ctx)
	desc, err := ts.Get(ctx, v.Tag)
	var gone distribution.ErrTagUnknown
	switch {
	case errors.As(err, &gone):
		return Deletion{}, "deleted since planned", nil
	case err != nil:
		return Deletion{}, "", fmt.Errorf("retention: reading tag %s:%s: %w", repo, v.Tag, err)
	case desc.Digest != v.Digest:
		return Deletion{}, "moved to " + desc.Digest.String() + " since planned", nil
	}
	if err := ts.Untag(ctx, v.Tag); err != nil {
		s.opts.Logger.WarnContext(ctx, "retention could not delete a tag", "repository", repo, "tag", v.Tag, "error", err.Error())
		return Deletion{}, "refused: " + err.Error(), nil
	}
	s.opts.Logger.InfoContext(ctx, "retention deleted a tag", "repository", repo, "tag", v.Tag,
		"digest", v.Digest.String(), "why", why)
	d := Deletion{Repository: repo, Tag: v.Tag, Digest: v.Digest, Why: why}
	if rp.DeleteUntagged {
		d.ManifestDeleted = s.deleteUntagged(ctx, r, repo, v.Digest)
	}
	return d, "", nil
}

// deleteUntagged deletes manifest dgst of r when no tag names it; it
// reports whether it did. A failure is logged: the tag is gone either way.
func (s *Service) deleteUntagged(ctx context.Context, r distribution.Repository, repo string, dgst digest.Digest) bool {
	left, err := r.Tags(ctx).Lookup(ctx, v1.Descriptor{Digest: dgst})
	if err != nil || len(left) > 0 {
		return false
	}
	ms, err := s.opts.Guard(r).Manifests(ctx)
	if err == nil {
		err = ms.Delete(ctx, dgst)
	}
	if err != nil {
		s.opts.Logger.WarnContext(ctx, "retention could not delete an untagged manifest", "repository", repo,
			"digest", dgst.String(), "error", err.Error())
		return false
	}
	s.opts.Logger.InfoContext(ctx, "retention deleted an untagged manifest", "repository", repo, "digest", dgst.String())
	return true
}
