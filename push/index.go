package push

import (
	"context"
	"fmt"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/internal/logs"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/validate"
)

// How long an index waits for its children's records to become visible.
// Records are looked up by digest, which in DynamoDB reads a global
// secondary index: eventually consistent, typically within a second. A
// client pushing an index right after its children (docker buildx --push)
// would otherwise be refused for children it was just told were accepted.
const (
	// childWaitTotal bounds the whole wait of one index, from its first
	// lookup; a child still unseen (or pending) then is refused.
	childWaitTotal = 2500 * time.Millisecond
	// childWaitFirst is the first pause, doubled after each look up to
	// childWaitMax.
	childWaitFirst = 50 * time.Millisecond
	childWaitMax   = 400 * time.Millisecond
)

// decideIndex lets an index through only when every child manifest passed
// the gate in this repository: its latest push record is accepted, or it
// passed the gate earlier in the same batch (an upload commits them
// together). A repository whose policy is off takes any index.
//
// A child whose latest record is rejected or failed refuses the index at
// once. A child with no record yet, or whose latest record is pending, is
// looked up again with backoff for up to childWaitTotal (the record may be
// on its way through an eventually consistent index, or the push still
// committing on another replica) before it refuses the index. ctx ending
// during the wait ends it with ctx's error: the gate could not decide.
func (p *Pipeline) decideIndex(ctx context.Context, x *Push, batch []*Push) error {
	if p.opts.Records == nil || x.result.Kind != validate.KindIndex {
		return nil
	}
	if p.opts.Scanning.Policies != nil && p.opts.Scanning.Policies.For(x.Repository).Mode == policy.Off {
		return nil
	}
	var waiting []indexChild
	for _, child := range x.result.Shape.Manifests {
		if inBatch(batch, x.Repository, child.Digest) != nil {
			continue
		}
		recorded, err := p.recordedDigest(ctx, x, child.Digest)
		if err != nil {
			return err
		}
		waiting = append(waiting, indexChild{listed: child.Digest, recorded: recorded})
	}
	deadline := time.Now().Add(childWaitTotal)
	for pause := childWaitFirst; ; pause = min(2*pause, childWaitMax) {
		var unsettled []indexChild
		for _, c := range waiting {
			v, err := p.childVerdict(ctx, x.Repository, c.recorded)
			if err != nil {
				return err
			}
			switch {
			case v.accepted:
			case v.final:
				return errChildRefused(c.listed, v.status)
			default:
				c.status = v.status
				unsettled = append(unsettled, c)
			}
		}
		if len(unsettled) == 0 {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			p.logger.Info("index refused: child records not visible after waiting",
				"repository", x.Repository, "manifest", unsettled[0].listed.String(), logs.Ms("waited_ms", childWaitTotal))
			return errChildRefused(unsettled[0].listed, unsettled[0].status)
		}
		if err := sleepCtx(ctx, min(pause, left)); err != nil {
			return fmt.Errorf("push: waiting for the records of index %s's children: %w", x.Repository, err)
		}
		waiting = unsettled
	}
}

// indexChild is one child of an index still to be checked: the digest the
// index lists, the digest its record is kept under, and what was last
// found about it.
type indexChild struct {
	listed, recorded digest.Digest
	status           string
}

// childVerdict is what the latest push record of a child says.
type childVerdict struct {
	// accepted: the child passed the gate here.
	accepted bool
	// final: the child was refused or failed; waiting changes nothing.
	final bool
	// status says what is wrong, for the refusal ("was rejected: …").
	status string
}

// childVerdict reads the latest push record of manifest d in repo.
func (p *Pipeline) childVerdict(ctx context.Context, repo string, d digest.Digest) (childVerdict, error) {
	page, err := p.opts.Records.List(ctx, metadata.Query{Repository: repo, Digest: d, Limit: 10})
	if err != nil {
		return childVerdict{}, errNotRecorded("index push", err)
	}
	for _, r := range page.Records {
		if r.Kind != metadata.KindPush {
			continue
		}
		switch {
		case r.Status == metadata.StatusAccepted:
			return childVerdict{accepted: true}, nil
		case r.Status == metadata.StatusPending:
			return childVerdict{status: "is still pending"}, nil
		case r.Reason != "":
			return childVerdict{final: true, status: "was " + string(r.Status) + ": " + r.Reason}, nil
		default:
			return childVerdict{final: true, status: "was " + string(r.Status)}, nil
		}
	}
	return childVerdict{status: "was never pushed through the gate"}, nil
}

// errChildRefused is the refusal of an index over child d.
func errChildRefused(d digest.Digest, status string) error {
	return errcode.ErrorCodeDenied.WithMessage(fmt.Sprintf("index lists manifest %s, which %s", d, status)).
		WithDetail(map[string]string{"manifest": d.String()})
}

// sleepCtx pauses for d, or until ctx ends (then it returns ctx's error).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// recordedDigest is the digest the gate recorded the push of manifest d
// under: its canonical (sha256) digest. A manifest pushed by a digest of
// another algorithm (sha512) is resolved through its alias link.
func (p *Pipeline) recordedDigest(ctx context.Context, x *Push, d digest.Digest) (digest.Digest, error) {
	if d.Algorithm() == digest.Canonical || p.opts.Aliases == nil {
		return d, nil
	}
	canonical, ok, err := p.opts.Aliases.Manifest(ctx, x.Repository, d)
	if err != nil {
		return "", fmt.Errorf("push: resolving manifest %s: %w", d, err)
	}
	if !ok {
		return d, nil
	}
	return canonical, nil
}
