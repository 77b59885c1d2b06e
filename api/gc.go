package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/gc"
	"github.com/imagegate/imagegate/internal/errcodes"
)

// GC is online garbage collection (package gc).
type GC interface {
	Plan(ctx context.Context) (*gc.Plan, error)
	Run(ctx context.Context) (gc.Result, error)
	Backfill(ctx context.Context) (gc.Backfilled, error)
}

// gcPlan answers GET /api/v1/gc/plan: the dry run, every manifest and
// blob a pass would delete with why (docs/lifecycle.md). Administrators
// only.
func (a *API) gcPlan(w http.ResponseWriter, r *http.Request) {
	if !a.gcRequest(w, r, "planning garbage collection") {
		return
	}
	p, err := a.gc.Plan(r.Context())
	if err != nil {
		a.gcFailed(w, r, "planning", err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// gcRun answers POST /api/v1/gc/run: one bounded pass (truncated: call
// again). 503 when another replica runs one, the references index is not
// backfilled yet, or manifests pushed during a metadata store outage are
// not indexed yet (gc.ErrUnindexed). Administrators only.
func (a *API) gcRun(w http.ResponseWriter, r *http.Request) {
	if !a.gcRequest(w, r, "running garbage collection") {
		return
	}
	res, err := a.gc.Run(r.Context())
	if err != nil {
		a.gcFailed(w, r, "running", err)
		return
	}
	a.logger.InfoContext(r.Context(), "gc run", "subject", callerOf(r).Subject(), "manifests_deleted", len(res.Manifests),
		"blobs_deleted", res.Blobs, "bytes_deleted", res.Bytes, "skipped", len(res.Skipped))
	writeJSON(w, http.StatusOK, res)
}

// gcBackfill answers POST /api/v1/gc/backfill: indexes the references of
// every stored manifest, once, so that passes may delete. Administrators
// only.
func (a *API) gcBackfill(w http.ResponseWriter, r *http.Request) {
	if !a.gcRequest(w, r, "backfilling the gc references") {
		return
	}
	res, err := a.gc.Backfill(r.Context())
	if err != nil {
		a.gcFailed(w, r, "backfilling", err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (a *API) gcRequest(w http.ResponseWriter, r *http.Request, what string) bool {
	if _, perr := readParams(r.URL.Query()); perr != nil {
		perr.serve(w)
		return false
	}
	if !a.allowAdmin(w, r, what) {
		return false
	}
	if a.gc == nil {
		errcodes.Serve(w, errcodes.NotFound.WithMessage("garbage collection is not available"))
		return false
	}
	return true
}

func (a *API) gcFailed(w http.ResponseWriter, r *http.Request, doing string, err error) {
	switch {
	case errors.Is(err, gc.ErrNotBackfilled), errors.Is(err, gc.ErrUnindexed), errors.Is(err, gc.ErrBusy):
		errcodes.Serve(w, errcode.ErrorCodeUnavailable.WithMessage(err.Error()))
		return
	}
	a.logger.ErrorContext(r.Context(), doing+" garbage collection failed", "error", err.Error())
	errcodes.Serve(w, errcode.ErrorCodeUnavailable.WithMessage(doing+" garbage collection failed reading storage or the fleet store; retry"))
}
