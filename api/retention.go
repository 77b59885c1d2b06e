package api

import (
	"context"
	"net/http"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/internal/repopattern"
	"github.com/imagegate/imagegate/retention"
)

// Retention plans and applies lifecycle.retention (package retention).
type Retention interface {
	Enabled() bool
	Plan(ctx context.Context, filter *repopattern.Pattern) (retention.Plan, error)
	Apply(ctx context.Context, filter *repopattern.Pattern) (retention.Result, error)
}

// retentionPlan answers GET /api/v1/retention/plan[?repository=PATTERN]:
// the dry run, per repository each tag to delete and each kept, with why
// (docs/lifecycle.md). Administrators only.
func (a *API) retentionPlan(w http.ResponseWriter, r *http.Request) {
	filter, ok := a.retentionRequest(w, r, "planning retention")
	if !ok {
		return
	}
	p, err := a.retention.Plan(r.Context(), filter)
	if err != nil {
		a.retentionFailed(w, r, "planning", err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// retentionApply answers POST /api/v1/retention/apply[?repository=PATTERN]:
// deletes the planned tags, at most lifecycle.retentionmaxdeletions per
// call (remaining says how many are left: call again). Administrators
// only.
func (a *API) retentionApply(w http.ResponseWriter, r *http.Request) {
	filter, ok := a.retentionRequest(w, r, "applying retention")
	if !ok {
		return
	}
	res, err := a.retention.Apply(r.Context(), filter)
	if err != nil {
		a.retentionFailed(w, r, "applying", err)
		return
	}
	a.logger.InfoContext(r.Context(), "retention applied", "subject", callerOf(r).Subject(),
		"deleted", len(res.Deleted), "skipped", len(res.Skipped), "remaining", res.Remaining)
	writeJSON(w, http.StatusOK, res)
}

// retentionRequest authorizes an administrator and reads the optional
// repository pattern; false when it answered the request.
func (a *API) retentionRequest(w http.ResponseWriter, r *http.Request, what string) (*repopattern.Pattern, bool) {
	p, perr := readParams(r.URL.Query(), "repository")
	if perr != nil {
		perr.serve(w)
		return nil, false
	}
	if !a.allowAdmin(w, r, what) {
		return nil, false
	}
	if a.retention == nil || !a.retention.Enabled() {
		errcodes.Serve(w, errcodes.NotFound.WithMessage("no retention rule is configured (lifecycle.retention)"))
		return nil, false
	}
	if !p.has("repository") {
		return nil, true
	}
	pat, err := repopattern.Compile(p.get("repository"))
	if err != nil {
		badQuery("repository", p.get("repository"), "a repository pattern (team/**, */app): "+err.Error()).serve(w)
		return nil, false
	}
	return &pat, true
}

func (a *API) retentionFailed(w http.ResponseWriter, r *http.Request, doing string, err error) {
	a.logger.ErrorContext(r.Context(), doing+" retention failed", "error", err.Error())
	errcodes.Serve(w, errcode.ErrorCodeUnavailable.WithMessage(doing+" retention failed reading storage; retry"))
}
