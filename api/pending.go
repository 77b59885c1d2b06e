package api

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/metadata"
)

// listPending answers GET /api/v1/pushes?status=pending&repository=&before=&limit=&cursor=
// with the records still pending (pushes in flight, or left by a server
// that stopped mid-push), oldest first, one page at a time, from the
// store's index of pending records. Like listPushes, a repository's are
// readable by whoever may pull it, all of them only by admins.
func (a *API) listPending(w http.ResponseWriter, r *http.Request) {
	q, err := parsePendingQuery(r.URL.Query())
	if err != nil {
		errcodes.Serve(w, errcodes.QueryInvalid.WithDetail(err.Error()))
		return
	}
	if !a.allowRecords(w, r, q.Repository) {
		return
	}
	page, err := a.store.Pending(r.Context(), q)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	a.writePage(w, r, page)
}

// parsePendingQuery reads the query parameters of listPending: user,
// digest and since, which pick or narrow List's indexes, are refused.
func parsePendingQuery(v url.Values) (metadata.PendingQuery, error) {
	q := metadata.PendingQuery{Repository: v.Get("repository"), Cursor: v.Get("cursor")}
	for _, p := range []string{"user", "digest", "since"} {
		if v.Has(p) {
			return q, errors.New(p + ": not supported with status=pending (only repository, before, limit, cursor)")
		}
	}
	var err error
	if q.OlderThan, err = parseTime(v, "before"); err != nil {
		return q, err
	}
	if q.Limit, err = parseLimit(v); err != nil {
		return q, err
	}
	return q.Normalize()
}
