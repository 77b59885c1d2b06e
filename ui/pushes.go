package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/imagegate/imagegate/metadata"
)

// maxUserLen bounds the user parameter of the pushes page (usernames are
// at most 256 bytes, as at sign-in).
const maxUserLen = 256

// pushesView is the pushes page's data: one person's push history across
// repositories (GET /api/v1/pushes?user=), or everyone's for an
// administrator who names no one.
type pushesView struct {
	User    string
	Admin   bool
	Records []*metadata.Record
	Next    string
	Cursor  string
}

// pushes answers GET /ui/pushes[?user=&cursor=]: the person's own pushes
// by default; an administrator may name anyone (or no one: every push).
// Whom else a non-administrator names, the API refuses: "not found".
func (h *Handler) pushes(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	v := pushesView{User: q.Get("user"), Cursor: q.Get("cursor"), Admin: s.caller.Admin()}
	if len(v.User) > maxUserLen || strings.ContainsFunc(v.User, func(c rune) bool { return c < ' ' || c == 0x7f }) {
		h.renderError(w, r, s, http.StatusBadRequest, "Bad request", "user must be a username")
		return
	}
	if v.User == "" && !v.Admin {
		v.User = s.caller.Subject()
	}
	params := url.Values{"limit": {strconv.Itoa(historyLimit)}}
	if v.User != "" {
		params.Set("user", v.User)
	}
	if v.Cursor != "" {
		params.Set("cursor", v.Cursor)
	}
	var page struct {
		Records    []*metadata.Record `json:"records"`
		NextCursor string             `json:"next_cursor"`
	}
	if err := h.callAPI(r, s, "/api/v1/pushes", params, &page); err != nil {
		h.apiFailed(w, r, s, err, "push history of "+v.User)
		return
	}
	v.Records, v.Next = page.Records, page.NextCursor
	title := "Pushes"
	if v.User != "" {
		title = "Pushes by " + v.User
	}
	h.render(w, r, s, http.StatusOK, "pushes", title, v)
}
