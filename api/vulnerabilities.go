package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/metadata"
)

// scanReport is the answer of the vulnerabilities and scan endpoints.
type scanReport struct {
	Repository string                `json:"repository"`
	Digest     digest.Digest         `json:"digest"`
	RecordID   string                `json:"record_id,omitempty"`
	Scan       *metadata.ScanSummary `json:"scan"`
	// Allowlist are the entries of the scan policy in force now that name
	// one of the scan's findings (the gate judged the push by the policy
	// of its time; this says what today's allows).
	Allowlist []allowlisted `json:"allowlist,omitempty"`
}

// vulnerabilities answers GET …/manifests/{digest}/vulnerabilities: the
// scan of the newest push record of the manifest that has one.
func (a *API) vulnerabilities(w http.ResponseWriter, r *http.Request, repo string, d digest.Digest) {
	page, err := a.store.List(r.Context(), metadata.Query{Repository: repo, Digest: d, Limit: metadata.MaxLimit})
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	for _, rec := range page.Records {
		if rec.Kind == metadata.KindPush && rec.Scan != nil {
			out := scanReport{Repository: repo, Digest: d, RecordID: rec.ID, Scan: rec.Scan}
			if a.policies != nil {
				out.Allowlist = allowlistOf(a.policies.For(repo), rec.Scan.Findings, time.Now())
			}
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	errcodes.Serve(w, errcodes.RecordUnknown.WithMessage("no scan of this manifest is recorded").
		WithDetail(map[string]string{"repository": repo, "digest": d.String()}))
}

// rescan answers POST …/manifests/{digest}/scan: the manifest scanned
// again, now, with the current vulnerability DB. Nothing is recorded. A
// scan costs minutes of a scanner worker, so it needs push on the
// repository (admins have it everywhere), not just pull.
func (a *API) rescan(w http.ResponseWriter, r *http.Request, repo string, d digest.Digest) {
	if !a.allow(w, r, repo, auth.ActionPush) {
		return
	}
	if a.rescans == nil {
		errcodes.Serve(w, errcode.ErrorCodeUnavailable.WithMessage("this server has no scanner"))
		return
	}
	summary, err := a.rescans.Rescan(r.Context(), repo, d)
	var e errcode.Error
	switch {
	case errors.As(err, &e):
		errcodes.Serve(w, e)
	case err != nil:
		a.logger.ErrorContext(r.Context(), "rescan failed", "repository", repo, "digest", d.String(), "error", err.Error())
		errcodes.Serve(w, errcode.ErrorCodeUnavailable.WithMessage("the scan failed").WithDetail(err.Error()))
	default:
		writeJSON(w, http.StatusOK, scanReport{Repository: repo, Digest: d, Scan: summary})
	}
}
