package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/imagegate/imagegate/auth"
)

// Robot accounts, for administrators: the pages are GET/POST/DELETE
// /api/v1/robots answered for the signed-in person, so the API alone
// decides who may see and manage them (a non-admin gets its 403).

// maxScopeLines bounds the scopes of one robot created through the form.
const maxScopeLines = 32

// robotScope is a scope as GET /api/v1/robots shows it.
type robotScope struct {
	Repositories string   `json:"repositories"`
	Actions      []string `json:"actions"`
}

// robot is a robot account as the API shows it; Secret only in the
// answer to its creation.
type robot struct {
	Name      string       `json:"name"`
	Username  string       `json:"username"`
	Scopes    []robotScope `json:"scopes"`
	CreatedAt time.Time    `json:"created_at"`
	CreatedBy string       `json:"created_by"`
	ExpiresAt time.Time    `json:"expires_at"`
	Secret    string       `json:"secret"`
}

// robotForm is the creation form's fields, kept to show them again
// after a refusal.
type robotForm struct {
	Name, Scopes, Expires string
}

// robotsView is the robots page's data.
type robotsView struct {
	Robots []robot
	Form   robotForm
	// Error is the API's refusal of the last creation; Revoked names the
	// robot just revoked.
	Error, Revoked string
}

// robotsPage answers GET /ui/robots: the robots and the creation form.
func (h *Handler) robotsPage(w http.ResponseWriter, r *http.Request, s *session) {
	v := robotsView{Form: robotForm{Scopes: "team/**:pull", Expires: "720h"}}
	if name := r.URL.Query().Get("revoked"); auth.CheckRobotName(name) == nil {
		v.Revoked = name
	}
	h.showRobots(w, r, s, http.StatusOK, v)
}

// showRobots renders the robots page with v and the API's list.
func (h *Handler) showRobots(w http.ResponseWriter, r *http.Request, s *session, status int, v robotsView) {
	var list struct {
		Robots []robot `json:"robots"`
	}
	if err := h.callAPI(r, s, "/api/v1/robots", nil, &list); err != nil {
		h.robotsFailed(w, r, s, err)
		return
	}
	v.Robots = list.Robots
	h.render(w, r, s, status, "robots", "Robot accounts", v)
}

// createRobot answers POST /ui/robots (with the session's CSRF token):
// POST /api/v1/robots, then a page showing the secret this once. The
// page is the answer to the post, never a URL to come back to: going
// back or reloading cannot show the secret again.
func (h *Handler) createRobot(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.checkedForm(w, r, s) {
		return
	}
	form := robotForm{Name: r.PostFormValue("name"), Scopes: r.PostFormValue("scopes"), Expires: r.PostFormValue("expires")}
	scopes, err := parseScopes(form.Scopes)
	if err != nil {
		h.showRobots(w, r, s, http.StatusBadRequest, robotsView{Form: form, Error: err.Error()})
		return
	}
	req := map[string]any{"name": form.Name, "scopes": scopes, "expires_in": form.Expires}
	var created robot
	err = h.sendAPI(r, s, http.MethodPost, "/api/v1/robots", req, http.StatusCreated, &created)
	var e *apiError
	if errors.As(err, &e) && e.Status == http.StatusBadRequest {
		h.showRobots(w, r, s, http.StatusBadRequest, robotsView{Form: form, Error: e.Message})
		return
	}
	if err != nil {
		h.robotsFailed(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusCreated, "robot-created", "Robot "+created.Name+" created", created)
}

// revokeForm answers GET /ui/robots/revoke?name=: the confirmation.
func (h *Handler) revokeForm(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.URL.Query().Get("name")
	if auth.CheckRobotName(name) != nil {
		h.renderError(w, r, s, http.StatusBadRequest, "Bad request", "name must be a robot's name")
		return
	}
	h.render(w, r, s, http.StatusOK, "robot-revoke", "Revoke robot "+name, robot{Name: name})
}

// revokeRobot answers POST /ui/robots/revoke (name, CSRF token): DELETE
// /api/v1/robots/{name}, then back to the list.
func (h *Handler) revokeRobot(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.checkedForm(w, r, s) {
		return
	}
	name := r.PostFormValue("name")
	if auth.CheckRobotName(name) != nil {
		h.renderError(w, r, s, http.StatusBadRequest, "Bad request", "name must be a robot's name")
		return
	}
	if err := h.sendAPI(r, s, http.MethodDelete, "/api/v1/robots/"+name, nil, http.StatusNoContent, nil); err != nil {
		h.robotsFailed(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/ui/robots?revoked="+url.QueryEscape(name), http.StatusSeeOther)
}

// checkedForm reads a signed-in form post and checks its CSRF token;
// false when it was answered (400, 403).
func (h *Handler) checkedForm(w http.ResponseWriter, r *http.Request, s *session) bool {
	if !h.parseForm(w, r, s) {
		return false
	}
	if h.opts.Auth != nil && !sameToken(r.PostFormValue(csrfField), s.CSRF) {
		h.refuseForgery(w, r, s)
		return false
	}
	return true
}

// robotsFailed shows the API's refusal: a person who is no administrator
// reads so (403); a registry without authentication has no robots.
func (h *Handler) robotsFailed(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var e *apiError
	switch {
	case errors.As(err, &e) && (e.Status == http.StatusForbidden || e.Status == http.StatusUnauthorized):
		h.renderError(w, r, s, http.StatusForbidden, "Administrators only", "Only administrators may manage robot accounts.")
	case errors.As(err, &e) && e.Status == http.StatusMethodNotAllowed:
		h.renderError(w, r, s, http.StatusNotFound, "No robot accounts", "Robot accounts need authentication (auth.enabled).")
	case errors.As(err, &e) && e.Status == http.StatusNotFound:
		h.renderError(w, r, s, http.StatusNotFound, "Not found", "No such robot.")
	default:
		h.apiFailed(w, r, s, err, "robots")
	}
}

// errScopes: the form's scopes are not PATTERN:ACTIONS lines.
var errScopes = errors.New("scopes: one PATTERN:ACTIONS a line, such as team/**:pull,push")

// parseScopes reads the form's scopes, one PATTERN:ACTIONS a line (the
// CLI's --scope), into the API's form; the API checks the rest.
func parseScopes(text string) ([]robotScope, error) {
	var out []robotScope
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		pattern, actions, ok := strings.Cut(line, ":")
		if !ok || pattern == "" || actions == "" || len(out) == maxScopeLines {
			return nil, errScopes
		}
		out = append(out, robotScope{Repositories: strings.TrimSpace(pattern), Actions: strings.Split(strings.ReplaceAll(actions, " ", ""), ",")})
	}
	if len(out) == 0 {
		return nil, errScopes
	}
	return out, nil
}
