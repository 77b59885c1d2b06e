package api

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"

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
// (listPending); any other status is a QUERY_INVALID.
func (a *API) listPushes(w http.ResponseWriter, r *http.Request) {
	switch status := r.URL.Query().Get("status"); status {
	case "":
	case string(metadata.StatusPending):
		a.listPending(w, r)
		return
	default:
		errcodes.Serve(w, errcodes.QueryInvalid.WithDetail(`status: only "pending" can be listed, got `+strconv.Quote(status)))
		return
	}
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		errcodes.Serve(w, errcodes.QueryInvalid.WithDetail(err.Error()))
		return
	}
	// Records by user span repositories, even with a repository given.
	repo := q.Repository
	if q.User != "" {
		repo = ""
	}
	if !a.allowRecords(w, r, repo) {
		return
	}
	page, err := a.store.List(r.Context(), q)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	a.writePage(w, r, page)
}

// allowRecords authorizes reading records: those of repository repo by
// whoever may pull it; records across repositories (repo "") only by
// admins. Refused, it has answered the request and returns false.
func (a *API) allowRecords(w http.ResponseWriter, r *http.Request, repo string) bool {
	if repo != "" {
		return a.guard.AllowPull(w, r, repo)
	}
	return a.guard.AllowAdmin(w, r)
}

// writePage answers page as a pushesPage, records as the caller may see
// them, with a Link header to the next page (r's query, its cursor
// replaced) unless it is the last.
func (a *API) writePage(w http.ResponseWriter, r *http.Request, page metadata.Page) {
	out := pushesPage{Records: a.visible(r, page.Records), NextCursor: page.Next}
	if page.Next != "" {
		next := r.URL.Query()
		next.Set("cursor", page.Next)
		w.Header().Set("Link", `<`+r.URL.Path+"?"+next.Encode()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, out)
}

// parseQuery reads the query parameters of listPushes.
func parseQuery(v url.Values) (metadata.Query, error) {
	q := metadata.Query{
		Repository: v.Get("repository"),
		User:       v.Get("user"),
		Cursor:     v.Get("cursor"),
	}
	if d := v.Get("digest"); d != "" {
		parsed, err := digest.Parse(d)
		if err != nil {
			return q, errors.New("digest: " + err.Error())
		}
		q.Digest = parsed
	}
	if v.Has("before") {
		return q, errors.New("before: only with status=pending")
	}
	var err error
	if q.Since, err = parseTime(v, "since"); err != nil {
		return q, err
	}
	if q.Limit, err = parseLimit(v); err != nil {
		return q, err
	}
	return q.Normalize()
}

// parseTime reads the RFC 3339 time of parameter name; zero when absent.
func parseTime(v url.Values, name string) (time.Time, error) {
	s := v.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, errors.New(name + `: must be an RFC 3339 time such as 2026-11-27T00:00:00Z`)
	}
	return t, nil
}

// parseLimit reads parameter limit, 1 to metadata.MaxLimit; 0 when absent.
func parseLimit(v url.Values) (int, error) {
	l := v.Get("limit")
	if l == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > metadata.MaxLimit {
		return 0, errors.New("limit: must be a number from 1 to 1000")
	}
	return n, nil
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
