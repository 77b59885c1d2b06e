package api

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/metadata"
)

// pushesPage is the answer of GET /api/v1/pushes.
type pushesPage struct {
	Records []*metadata.Record `json:"records"`
	// NextCursor fetches the next page; absent on the last one.
	NextCursor string `json:"next_cursor,omitempty"`
}

// listPushes answers GET /api/v1/pushes?repository=&user=&digest=&since=&limit=&cursor=
// with records newest first, one page at a time; a Link header names the
// next page. With status=pending it lists pending records instead
// (listPending); any other status is a QUERY_INVALID. Records across
// repositories are for admins, except a person's own (user= their own
// subject), less those of repositories they may not pull. Every parameter is
// checked before anything is read (params.go).
func (a *API) listPushes(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	switch status := v.Get("status"); {
	case !v.Has("status"):
	case status == string(metadata.StatusPending) && len(v["status"]) == 1:
		a.listPending(w, r)
		return
	default:
		badQuery("status", status, `only "pending" can be listed (omit status for every record)`).serve(w)
		return
	}
	q, perr := parseQuery(v)
	if perr != nil {
		perr.serve(w)
		return
	}
	// Records by user span repositories, even with a repository given.
	repo := q.Repository
	if q.User != "" {
		repo = ""
	}
	c := callerOf(r)
	own := q.User != "" && q.User == c.Subject() && !c.Admin()
	if !own && !a.allowRecords(w, r, repo) {
		return
	}
	page, err := a.store.List(r.Context(), q)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if own {
		page.Records = mayPull(c, page.Records)
	}
	a.writePage(w, r, page)
}

// mayPull returns the records of repositories c may pull: a person's own
// pushes, less those of repositories they may no longer see. A page may
// so hold fewer records than its limit; its cursor still continues it.
func mayPull(c Caller, records []*metadata.Record) []*metadata.Record {
	out := make([]*metadata.Record, 0, len(records))
	for _, rec := range records {
		if rec != nil && c.May(rec.Repository, auth.ActionPull) {
			out = append(out, rec)
		}
	}
	return out
}

// allowRecords authorizes reading records: those of repository repo by
// whoever may pull it; records across repositories (repo "") only by
// admins. Refused, it has answered the request and returns false.
func (a *API) allowRecords(w http.ResponseWriter, r *http.Request, repo string) bool {
	if repo != "" {
		return a.allow(w, r, repo, auth.ActionPull)
	}
	return a.allowAdmin(w, r, "reading records across repositories (without repository, or with user)")
}

// writePage answers page as a pushesPage, records as the caller may see
// them, with a Link header to the next page (r's query, its cursor
// replaced) unless it is the last.
func (a *API) writePage(w http.ResponseWriter, r *http.Request, page metadata.Page) {
	out := pushesPage{Records: visible(r, page.Records), NextCursor: page.Next}
	if page.Next != "" {
		next := r.URL.Query()
		next.Set("cursor", page.Next)
		w.Header().Set("Link", `<`+r.URL.Path+"?"+next.Encode()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, out)
}

// parseQuery reads the query parameters of listPushes.
func parseQuery(v url.Values) (metadata.Query, *paramError) {
	p, perr := readParams(v, "repository", "user", "digest", "since", "limit", "cursor")
	if perr != nil {
		if perr.param == "before" {
			perr.reason = "only with status=pending"
		}
		return metadata.Query{}, perr
	}
	var q metadata.Query
	if q.Repository, perr = p.repository("repository"); perr != nil {
		return q, perr
	}
	if q.User, perr = p.user(); perr != nil {
		return q, perr
	}
	if q.Digest, perr = p.digest("digest"); perr != nil {
		return q, perr
	}
	if q.Since, perr = p.time("since"); perr != nil {
		return q, perr
	}
	if q.Limit, q.Cursor, perr = p.page(); perr != nil {
		return q, perr
	}
	q, err := q.Normalize() // cannot fail once the parameters passed
	return q, badQuery("query", v.Encode(), "").orNil(err)
}

// storeError answers a store failure: the client's mistake as 400, a
// missing record as 404, anything else as 503 (the store is unreachable).
func (a *API) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, metadata.ErrInvalid):
		errcodes.Serve(w, errcodes.QueryInvalid.WithDetail(err.Error()))
	case errors.Is(err, metadata.ErrNotFound):
		errcodes.Serve(w, errcodes.RecordUnknown.WithDetail(err.Error()))
	default:
		a.logger.ErrorContext(r.Context(), "metadata query failed", "error", err.Error())
		errcodes.Serve(w, errcodes.MetadataUnavailable)
	}
}
