package middleware

import (
	"context"
	"fmt"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/validate"
)

// indexStage lets an index through only when every child manifest passed
// the gate in this repository: its latest push record is accepted.
func (g *Gate) indexStage(ctx context.Context, rec *metadata.Record, res *validate.Result, ms distribution.ManifestService) error {
	if g.records == nil || res.Kind != validate.KindIndex {
		return nil
	}
	if g.scanning.Policies != nil && g.scanning.Policies.For(rec.Repository).Mode == policy.Off {
		return nil
	}
	for _, child := range res.Shape.Manifests {
		page, err := g.records.List(ctx, metadata.Query{Repository: rec.Repository, Digest: recordedDigest(ctx, ms, child.Digest), Limit: 10})
		if err != nil {
			return errNotRecorded("index push", err)
		}
		status := "was never pushed through the gate"
		for _, r := range page.Records {
			if r.Kind != metadata.KindPush {
				continue
			}
			if r.Status == metadata.StatusAccepted {
				status = ""
			} else {
				status = "was " + string(r.Status)
				if r.Reason != "" {
					status += ": " + r.Reason
				}
			}
			break
		}
		if status != "" {
			return errcode.ErrorCodeDenied.WithMessage(fmt.Sprintf("index lists manifest %s, which %s", child.Digest, status)).
				WithDetail(map[string]string{"manifest": child.Digest.String()})
		}
	}
	return nil
}
