package api

import (
	"context"
	"net/http"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/quota"
)

// QuotaReader reads the usage of a repository's quota budget (package
// quota); false when the repository has none.
type QuotaReader interface {
	UsageOf(ctx context.Context, repo string) (quota.Usage, bool, error)
}

// quotaUsage answers GET /api/v1/quota?repository=NAME with the usage of
// the repository's budget (its namespace, or a shared pattern): bytes
// used and allowed, repositories counted and allowed
// (docs/lifecycle.md). Whoever may pull the repository may read it; 404
// when it has no quota.
func (a *API) quotaUsage(w http.ResponseWriter, r *http.Request) {
	p, perr := readParams(r.URL.Query(), "repository")
	if perr != nil {
		perr.serve(w)
		return
	}
	repo, perr := p.repository("repository")
	if perr == nil && repo == "" {
		perr = badQuery("repository", "", "required: the repository whose namespace's quota to read")
	}
	if perr != nil {
		perr.serve(w)
		return
	}
	if !a.allow(w, r, repo, "pull") {
		return
	}
	if a.quotas == nil {
		errcodes.Serve(w, errcodes.NotFound.WithMessage("no quota is configured (lifecycle.quotas)"))
		return
	}
	u, ok, err := a.quotas.UsageOf(r.Context(), repo)
	switch {
	case err != nil:
		a.logger.ErrorContext(r.Context(), "reading quota usage failed", "repository", repo, "error", err.Error())
		errcodes.Serve(w, errcode.ErrorCodeUnavailable.WithMessage("the quota store is unreachable; retry"))
	case !ok:
		errcodes.Serve(w, errcodes.NotFound.WithMessage("no quota applies to "+repo+" (lifecycle.quotas)"))
	default:
		writeJSON(w, http.StatusOK, u)
	}
}
