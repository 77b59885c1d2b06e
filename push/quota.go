package push

import (
	"context"
	"errors"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/quota"
)

// chargeQuota charges every push of the commit to its namespace's quota
// (Options.Quotas), under the commit's tag lock and each budget's own
// lock, before anything is recorded or stored: the check and the charge
// are one step across replicas, so concurrent pushers never take a
// namespace past its limit. A push that does not fit refuses the whole
// commit (the push recorded rejected with used / limit, the others
// withdrawn). The charge is given back when storing fails (Commit).
func (p *Pipeline) chargeQuota(ctx context.Context, pushes []*Push) (*quota.Charge, error) {
	if !p.opts.Quotas.Enabled() {
		return nil, nil
	}
	items := make([]quota.Item, 0, len(pushes))
	for _, x := range pushes {
		items = append(items, quotaItem(x))
	}
	charge, err := p.opts.Quotas.Charge(ctx, items)
	var exceeded *quota.Exceeded
	switch {
	case errors.As(err, &exceeded):
		x := pushes[0]
		for _, y := range pushes {
			if y.Repository == exceeded.Repository {
				x = y
				break
			}
		}
		refusal := exceeded.OCI()
		p.refuseCommit(ctx, pushes, x, refusal, ReasonQuota)
		return nil, refusal
	case err != nil:
		p.logger.WarnContext(ctx, "charging the quota failed", "error", err.Error())
		p.committed(pushes, OutcomeFailed, ReasonConflict)
		return nil, errcode.ErrorCodeUnavailable.WithMessage("the quota store is unreachable; nothing was changed — retry")
	}
	return charge, nil
}

// quotaItem is what x charges: its config and layers as validation
// described them, and the manifest itself.
func quotaItem(x *Push) quota.Item {
	it := quota.Item{Repository: x.Repository, Manifest: x.canonical,
		Blobs: []quota.Blob{{Digest: x.canonical, Size: int64(len(x.Payload))}}}
	if rec := x.record; rec != nil {
		if rec.Config != nil {
			it.Blobs = append(it.Blobs, quota.Blob{Digest: rec.Config.Digest, Size: rec.Config.Size})
		}
		for _, l := range rec.Layers {
			it.Blobs = append(it.Blobs, quota.Blob{Digest: l.Digest, Size: l.Size})
		}
	}
	return it
}
