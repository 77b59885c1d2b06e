package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
)

// historyLimit is how many push records a repository page shows.
const historyLimit = 50

// repositoriesView is the repositories page's data: GET /api/v1/repositories.
type repositoriesView struct {
	Repositories []string `json:"repositories"`
	NextLast     string   `json:"next_last"`
	Last         string   `json:"-"`
}

// repositories answers GET /ui/repositories[?last=]: the repositories the
// person may pull, a page at a time.
func (h *Handler) repositories(w http.ResponseWriter, r *http.Request, s *session) {
	q := url.Values{}
	if last := r.URL.Query().Get("last"); last != "" {
		q.Set("last", last)
	}
	var v repositoriesView
	if err := h.callAPI(r, s, "/api/v1/repositories", q, &v); err != nil {
		h.apiFailed(w, r, s, err, "repositories")
		return
	}
	v.Last = q.Get("last")
	h.render(w, r, s, http.StatusOK, "repositories", "Repositories", v)
}

// tagRef is a tag of GET /api/v1/repositories/{name}/tags.
type tagRef struct {
	Name          string        `json:"name"`
	Digest        digest.Digest `json:"digest"`
	LastPulledAt  time.Time     `json:"last_pulled_at"`
	LastPulledTag string        `json:"last_pulled_tag"`
	// Pull words the last pull of the manifest the tag names.
	Pull lastPull `json:"-"`
}

// repositoryView is the repository page's data: its tags and push history.
type repositoryView struct {
	Name string
	Tags []tagRef
	// NextTag is the API's next_last when the tags are more than one
	// page (10,000): the page says so and where the rest begins.
	NextTag string
	// PullsTracked: the tag list has a "Last pulled" column (pulls are
	// tracked, or a pull is recorded).
	PullsTracked bool
	Records      []*metadata.Record
	// Next is the cursor of the next page of records.
	Next   string
	Cursor string
}

// repository answers GET /ui/repository?name=&cursor=: tags (GET
// …/repositories/{name}/tags) and push history (GET /api/v1/pushes?repository=).
// A repository the person may not pull is not found, as one that does
// not exist.
func (h *Handler) repository(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.URL.Query().Get("name")
	v := repositoryView{Name: name, Cursor: r.URL.Query().Get("cursor")}
	if !pathSafe(name) {
		h.renderError(w, r, s, http.StatusBadRequest, "Bad request", "name must be a repository name")
		return
	}
	var tags struct {
		Tags     []tagRef `json:"tags"`
		NextLast string   `json:"next_last"`
		pullCoverage
	}
	if err := h.callAPI(r, s, "/api/v1/repositories/"+name+"/tags", nil, &tags); err != nil {
		h.apiFailed(w, r, s, err, "repository "+name)
		return
	}
	now := h.now()
	v.PullsTracked = !tags.TrackedSince.IsZero()
	for i, t := range tags.Tags {
		tags.Tags[i].Pull = describePull(now, t.LastPulledAt, t.LastPulledTag, tags.pullCoverage)
		v.PullsTracked = v.PullsTracked || !t.LastPulledAt.IsZero()
	}
	v.Tags, v.NextTag = tags.Tags, tags.NextLast
	q := url.Values{"repository": {name}, "limit": {strconv.Itoa(historyLimit)}}
	if v.Cursor != "" {
		q.Set("cursor", v.Cursor)
	}
	var page struct {
		Records    []*metadata.Record `json:"records"`
		NextCursor string             `json:"next_cursor"`
	}
	if err := h.callAPI(r, s, "/api/v1/pushes", q, &page); err != nil {
		h.apiFailed(w, r, s, err, "repository "+name)
		return
	}
	v.Records, v.Next = page.Records, page.NextCursor
	h.render(w, r, s, http.StatusOK, "repository", name, v)
}

// apiFailed shows an API refusal as a page: a repository the person may
// not pull, or one that does not exist, is "not found" alike (403 and 404
// both answer 404, so the UI tells no one what exists); a bad parameter is
// a 400 with the API's message; the rest is unavailable.
func (h *Handler) apiFailed(w http.ResponseWriter, r *http.Request, s *session, err error, what string) {
	var e *apiError
	switch {
	case !errors.As(err, &e):
		h.opts.Logger.ErrorContext(r.Context(), "ui api call failed", "error", err.Error())
		h.renderError(w, r, s, http.StatusServiceUnavailable, "Unavailable", "This page cannot be shown right now; retry in a moment.")
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusNotFound:
		h.renderError(w, r, s, http.StatusNotFound, "Not found", "No "+what+" that you may see.")
	case e.Status == http.StatusBadRequest:
		h.renderError(w, r, s, http.StatusBadRequest, "Bad request", e.Message)
	default:
		h.renderError(w, r, s, e.Status, "Unavailable", e.Message)
	}
}
