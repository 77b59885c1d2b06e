package push

import (
	"context"
	"fmt"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/validate"
)

// decideIndex lets an index through only when every child manifest passed
// the gate in this repository: its latest push record is accepted, or it
// passed the gate earlier in the same batch (an upload commits them
// together). A repository whose policy is off takes any index.
func (p *Pipeline) decideIndex(ctx context.Context, x *Push, batch []*Push) error {
	if p.opts.Records == nil || x.result.Kind != validate.KindIndex {
		return nil
	}
	if p.opts.Scanning.Policies != nil && p.opts.Scanning.Policies.For(x.Repository).Mode == policy.Off {
		return nil
	}
	for _, child := range x.result.Shape.Manifests {
		if inBatch(batch, x.Repository, child.Digest) != nil {
			continue
		}
		recorded, err := p.recordedDigest(ctx, x, child.Digest)
		if err != nil {
			return err
		}
		status, err := p.childStatus(ctx, x.Repository, recorded)
		if err != nil {
			return err
		}
		if status != "" {
			return errcode.ErrorCodeDenied.WithMessage(fmt.Sprintf("index lists manifest %s, which %s", child.Digest, status)).
				WithDetail(map[string]string{"manifest": child.Digest.String()})
		}
	}
	return nil
}

// childStatus says what is wrong with manifest d of repo as an index's
// child: "" when its latest push record is accepted.
func (p *Pipeline) childStatus(ctx context.Context, repo string, d digest.Digest) (string, error) {
	page, err := p.opts.Records.List(ctx, metadata.Query{Repository: repo, Digest: d, Limit: 10})
	if err != nil {
		return "", errNotRecorded("index push", err)
	}
	for _, r := range page.Records {
		if r.Kind != metadata.KindPush {
			continue
		}
		switch {
		case r.Status == metadata.StatusAccepted:
			return "", nil
		case r.Reason != "":
			return "was " + string(r.Status) + ": " + r.Reason, nil
		default:
			return "was " + string(r.Status), nil
		}
	}
	return "was never pushed through the gate", nil
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
