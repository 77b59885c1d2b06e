package api

import (
	"errors"
	"net/http"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/google/uuid"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/metadata"
)

// record answers GET /api/v1/pushes/{id}: one record (the record_id of a
// webhook event), to whoever may pull its repository. A caller that may
// not learns nothing, not even that the record exists: 404, as for an
// unknown id (401 with a challenge when it sent no usable credentials).
func (a *API) record(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if u, err := uuid.Parse(id); err != nil || u.String() != id {
		badQuery("id", id, "not a record id: want a lowercase UUID such as 0192f3a4-…, the record_id of an event").serve(w)
		return
	}
	if _, perr := readParams(r.URL.Query()); perr != nil {
		perr.serve(w)
		return
	}
	rec, err := a.store.Get(r.Context(), id)
	if err != nil && !errors.Is(err, metadata.ErrNotFound) {
		a.storeError(w, r, err)
		return
	}
	c := callerOf(r)
	if err == nil && c.May(rec.Repository, auth.ActionPull) {
		writeJSON(w, http.StatusOK, visible(r, []*metadata.Record{rec})[0])
		return
	}
	if !c.Complete() {
		a.challenge(w, r, errcode.ErrorCodeUnauthorized.WithMessage("reading record "+id+
			" needs credentials: Basic, or a Bearer token for scope "+TokenScope))
		return
	}
	errcodes.Serve(w, errcodes.RecordUnknown.WithMessage("no record "+id+" that "+c.Subject()+" may read").
		WithDetail(map[string]string{"id": id}))
}
