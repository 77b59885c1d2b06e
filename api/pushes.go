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
// next page.
func (a *API) listPushes(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		errcodes.Serve(w, errcodes.QueryInvalid.WithDetail(err.Error()))
		return
	}
	// A repository's records are readable by whoever may pull it; records
	// across repositories (by user, by digest alone, or all) only by admins.
	if q.Repository != "" && q.User == "" {
		if !a.guard.AllowPull(w, r, q.Repository) {
			return
		}
	} else if !a.guard.AllowAdmin(w, r) {
		return
	}
	page, err := a.store.List(r.Context(), q)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
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
	if s := v.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return q, errors.New(`since: must be an RFC 3339 time such as 2026-11-27T00:00:00Z`)
		}
		q.Since = t
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > metadata.MaxLimit {
			return q, errors.New("limit: must be a number from 1 to 1000")
		}
		q.Limit = n
	}
	return q.Normalize()
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
