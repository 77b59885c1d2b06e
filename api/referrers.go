package api

import (
	"context"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
)

// maxReferrers bounds the referrers one answer lists (and so the record
// lookups it makes, one per referrer).
const maxReferrers = 100

// ReferrerLister lists the OCI 1.1 referrers of a manifest (oci.Referrers):
// every artifactType when artifactType is "".
type ReferrerLister interface {
	List(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]v1.Descriptor, error)
}

// referrer is one manifest naming the image as its subject: a signature,
// an SBOM, an attestation. PushedAt and PushedBy come from its newest push
// record, absent when none is kept (an artifact pushed before imagegate
// recorded, or whose record lifecycle removed).
type referrer struct {
	Digest       digest.Digest     `json:"digest"`
	MediaType    string            `json:"media_type"`
	ArtifactType string            `json:"artifact_type,omitempty"`
	Size         int64             `json:"size"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	PushedAt     *time.Time        `json:"pushed_at,omitempty"`
	PushedBy     string            `json:"pushed_by,omitempty"`
}

// referrersAnswer is the answer of GET …/manifests/{digest}/referrers.
type referrersAnswer struct {
	Repository string        `json:"repository"`
	Digest     digest.Digest `json:"digest"`
	Referrers  []referrer    `json:"referrers"`
	// Truncated says more than maxReferrers exist; the registry's
	// /v2/{name}/referrers/{digest} lists them all, a page at a time.
	Truncated bool `json:"truncated,omitempty"`
}

// referrersOf answers GET …/manifests/{digest}/referrers: the manifest's
// referrers ordered by digest, at most maxReferrers of them.
func (a *API) referrersOf(w http.ResponseWriter, r *http.Request, repo string, d digest.Digest) {
	if a.referrers == nil {
		answerStored(w, r, a, "referrers listing", repo, d, nil, errOff("referrers are not served by this server"))
		return
	}
	descs, err := a.referrers.List(r.Context(), repo, d, "")
	if err != nil {
		answerStored(w, r, a, "referrers listing", repo, d, nil, err)
		return
	}
	out := referrersAnswer{Repository: repo, Digest: d, Referrers: []referrer{}, Truncated: len(descs) > maxReferrers}
	for _, desc := range descs[:min(len(descs), maxReferrers)] {
		ref := referrer{Digest: desc.Digest, MediaType: desc.MediaType, ArtifactType: desc.ArtifactType, Size: desc.Size, Annotations: desc.Annotations}
		page, err := a.store.List(r.Context(), metadata.Query{Repository: repo, Digest: desc.Digest, Limit: 1})
		if err != nil {
			a.storeError(w, r, err)
			return
		}
		if len(page.Records) == 1 && page.Records[0].Kind == metadata.KindPush {
			at := page.Records[0].ReceivedAt
			ref.PushedAt, ref.PushedBy = &at, page.Records[0].User.Subject
		}
		out.Referrers = append(out.Referrers, ref)
	}
	writeJSON(w, http.StatusOK, out)
}
