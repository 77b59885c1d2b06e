package push

import (
	"context"
	"log/slog"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/lifecycle"
)

// readMoves reads, under the commit's lock, what each tag of each push
// names now (tagMoves), before any rule is checked or record written.
func (p *Pipeline) readMoves(ctx context.Context, pushes []*Push) error {
	for _, x := range pushes {
		moves, err := p.tagMoves(ctx, x)
		if err != nil {
			return err
		}
		x.record.TagMoves = moves
	}
	return nil
}

// checkImmutable applies the immutability rules (Options.Immutable) to
// every tag the commit moves, under the commit's lock, so that what it
// read is what it would overwrite. Creating a tag, or pointing it at the
// digest it names already (a retried push), is always allowed. Moving a
// protected tag is refused — the whole commit: its offending push is
// recorded rejected naming the rule, the others withdrawn — unless an
// administrator sent an override reason: then the move is recorded in the
// push's record (Overrides) and as an audit line.
//
// This is the one check for every tag write of every door (the /v2/ PUT
// by tag, ?tag= on a PUT by digest, the tarball upload); deletions are
// checked by the guard on distribution's handlers (CheckDeletion).
func (p *Pipeline) checkImmutable(ctx context.Context, pushes []*Push) error {
	if !p.opts.Immutable.Enabled() {
		return nil
	}
	for _, x := range pushes {
		for _, m := range x.moved {
			v := p.opts.Immutable.Check(lifecycle.Change{Repository: x.Repository, Tag: m.tag,
				From: m.prev.Digest, To: x.tagDigest()})
			if v == nil {
				continue
			}
			if lifecycle.MayOverride(x.Requester.Admin, x.Override) {
				note := v.Overridden(x.Override)
				x.record.Overrides = append(x.record.Overrides, note)
				auditOverride(ctx, p.logger, x.Requester, v, x.Override)
				continue
			}
			p.refuseCommit(ctx, pushes, x, v.Error(), ReasonImmutable)
			return v.Error()
		}
	}
	return nil
}

// precheckImmutable refuses, before validation and scanning, a push whose
// tag already names another digest under an immutability rule (and that
// no administrator overrides): a push the commit would refuse anyway
// costs no diff_id verification and no scan. It reads the tags without
// the lock; the commit's check (checkImmutable) stays the one that
// decides, so a tag created in between is still caught there. A tag that
// cannot be read is left to the commit.
func (p *Pipeline) precheckImmutable(ctx context.Context, x *Push) (errcode.Error, bool) {
	if !p.opts.Immutable.Enabled() || lifecycle.MayOverride(x.Requester.Admin, x.Override) {
		return errcode.Error{}, false
	}
	ts := x.repo.Tags(ctx)
	for _, t := range x.Tags {
		desc, err := ts.Get(ctx, t)
		if err != nil {
			continue
		}
		v := p.opts.Immutable.Check(lifecycle.Change{Repository: x.Repository, Tag: t, From: desc.Digest, To: x.tagDigest()})
		if v != nil {
			return v.Error(), true
		}
	}
	return errcode.Error{}, false
}

// refuseCommit records a refusal decided under the commit's lock (or, for
// one push, before its gate): x rejected for refusal, every other push of
// the commit withdrawn.
func (p *Pipeline) refuseCommit(ctx context.Context, pushes []*Push, x *Push, refusal errcode.Error, reason string) {
	p.reject(ctx, x, refusal.Message)
	p.opts.Metrics.outcome(doorOf(x.Source), x.Repository, OutcomeRefused, reason, p.modeOf(x.Repository), x.record, x.began)
	for _, y := range pushes {
		if y != x {
			p.Withdraw(ctx, y, "not published: another manifest of the same upload was refused: "+refusal.Message)
		}
	}
}

// auditOverride logs an administrator's override of v as an audit line.
func auditOverride(ctx context.Context, logger *slog.Logger, who Requester, v *lifecycle.Violation, reason string) {
	logger.WarnContext(ctx, "immutable tag overridden", "audit", "lifecycle", "user", who.User.Subject,
		"repository", v.Repository, "tag", v.Tag, "from", v.From.String(), "to", v.To.String(),
		"rule", v.Rule.Repositories, "tags", v.Rule.Tag, "reason", reason, "request_id", who.RequestID)
}

// CheckDeletion applies im to the deletion of tags, each naming from
// now, in repo by who, with the override reason the request sent. It
// returns the refusal of the first protected tag, or nil with the
// override notes to record (one per protected tag) when every tag may go.
// Deleting a manifest deletes every tag naming it, so a manifest deletion
// calls it with those tags. Overrides are logged as audit lines.
func CheckDeletion(ctx context.Context, im *lifecycle.Immutability, logger *slog.Logger, repo string, tags []string,
	from digest.Digest, who Requester, reason string) ([]string, error) {
	var notes []string
	for _, tag := range tags {
		v := im.Check(lifecycle.Change{Repository: repo, Tag: tag, From: from})
		if v == nil {
			continue
		}
		if !lifecycle.MayOverride(who.Admin, reason) {
			return nil, v.Error()
		}
		notes = append(notes, v.Overridden(reason))
		auditOverride(ctx, logger, who, v, reason)
	}
	return notes, nil
}
