package api

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/imagegate/imagegate/metadata"
)

// listPending answers GET /api/v1/pushes?status=pending&repository=&before=&limit=&cursor=
// with the records still pending (pushes in flight, or left by a server
// that stopped mid-push), oldest first, one page at a time, from the
// store's index of pending records. Like listPushes, a repository's are
// readable by whoever may pull it, all of them only by admins.
func (a *API) listPending(w http.ResponseWriter, r *http.Request) {
	q, perr := parsePendingQuery(r.URL.Query())
	if perr != nil {
		perr.serve(w)
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
func parsePendingQuery(v url.Values) (metadata.PendingQuery, *paramError) {
	p, perr := readParams(v, "status", "repository", "before", "limit", "cursor")
	if perr != nil {
		if slices.Contains([]string{"user", "digest", "since"}, perr.param) {
			perr.reason = "not supported with status=pending (only repository, before, limit, cursor)"
		}
		return metadata.PendingQuery{}, perr
	}
	var q metadata.PendingQuery
	if q.Repository, perr = p.repository("repository"); perr != nil {
		return q, perr
	}
	if q.OlderThan, perr = p.time("before"); perr != nil {
		return q, perr
	}
	if q.Limit, q.Cursor, perr = p.page(); perr != nil {
		return q, perr
	}
	q, err := q.Normalize() // cannot fail once the parameters passed
	return q, badQuery("query", v.Encode(), "").orNil(err)
}
