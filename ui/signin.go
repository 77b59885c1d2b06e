package ui

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/imagegate/imagegate/auth"
)

// Bounds of the sign-in form's fields.
const (
	maxUsernameLen = 256
	maxPasswordLen = 1024
)

// loginView is the sign-in page's data.
type loginView struct {
	CSRF     string
	Next     string
	Username string
	Message  string
	NoAuth   bool
	// OIDCName names the issuer of the "Sign in with" button; "" none.
	OIDCName string
}

// safeNext is where to go after signing in: a UI path of this origin
// (never another site: "//evil" or a scheme are refused), else the
// repositories.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") ||
		len(next) > 2048 || strings.HasPrefix(next, "/ui/login") {
		return "/ui/repositories"
	}
	return next
}

// loginForm answers GET /ui/login: the form, or straight on when already
// signed in.
func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if h.opts.Auth == nil {
		h.render(w, r, nil, http.StatusOK, "login", "Sign in", loginView{NoAuth: true, Next: next})
		return
	}
	if _, err := h.currentSession(r); err == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	h.render(w, r, nil, http.StatusOK, "login", "Sign in", loginView{CSRF: h.loginToken(w, r), Next: next, OIDCName: h.oidcName(w, r)})
}

// login answers POST /ui/login: username and password checked by the
// token service's own login (same authenticators, lockout and security
// watcher), only for people; on success a new session.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if h.opts.Auth == nil {
		http.Redirect(w, r, "/ui/repositories", http.StatusSeeOther)
		return
	}
	if !h.parseForm(w, r, nil) {
		return
	}
	c, err := r.Cookie(h.loginCookieName())
	if err != nil || !sameToken(r.PostFormValue(csrfField), c.Value) {
		h.refuseForgery(w, r, nil)
		return
	}
	user, pass, next := r.PostFormValue("username"), r.PostFormValue("password"), safeNext(r.PostFormValue("next"))
	view := loginView{CSRF: c.Value, Next: next, Username: user, OIDCName: h.oidcName(w, r)}
	if user == "" || pass == "" || len(user) > maxUsernameLen || len(pass) > maxPasswordLen {
		view.Message = "Enter your username and password."
		h.render(w, r, nil, http.StatusBadRequest, "login", "Sign in", view)
		return
	}
	person, err := h.opts.Auth.PersonLogin(r, user, pass)
	var refused *auth.LoginRefused
	switch {
	case errors.As(err, &refused) && refused.Locked:
		view.Message = fmt.Sprintf("Too many failed sign-ins. Try again in %d minute(s).", int(refused.RetryAfter.Minutes())+1)
		w.Header().Set("Retry-After", fmt.Sprint(int(refused.RetryAfter.Seconds())+1))
		h.render(w, r, nil, http.StatusTooManyRequests, "login", "Sign in", view)
	case errors.As(err, &refused):
		view.Message = "Invalid username or password."
		h.render(w, r, nil, http.StatusUnauthorized, "login", "Sign in", view)
	case errors.Is(err, auth.ErrNotAPerson):
		view.Message = "Robot accounts cannot sign in here; they use tokens."
		h.render(w, r, nil, http.StatusForbidden, "login", "Sign in", view)
	case err != nil:
		h.opts.Logger.ErrorContext(r.Context(), "ui sign-in failed", "error", err.Error())
		view.Message = "Signing in is not possible right now; retry in a moment."
		h.render(w, r, nil, http.StatusServiceUnavailable, "login", "Sign in", view)
	default:
		if err := h.startSession(w, r, person, oidcTokens{}); err != nil {
			h.opts.Logger.ErrorContext(r.Context(), "ui session not stored", "error", err.Error())
			view.Message = "Signing in is not possible right now; retry in a moment."
			h.render(w, r, nil, http.StatusServiceUnavailable, "login", "Sign in", view)
			return
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
	}
}

// logout answers POST /ui/logout (with the session's CSRF token): the
// session is deleted from the store, so its cookie is worthless even if
// kept, and its refresh token revoked at the issuer (oidc_revoke.go;
// the answer waits for that at most revokeWait).
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, s *session) {
	if !h.parseForm(w, r, s) {
		return
	}
	if h.opts.Auth == nil {
		http.Redirect(w, r, "/ui/repositories", http.StatusSeeOther)
		return
	}
	if !sameToken(r.PostFormValue(csrfField), s.CSRF) {
		h.refuseForgery(w, r, s)
		return
	}
	h.endSession(r.Context(), s.key)
	h.clearCookie(w)
	waitAtMost(r.Context(), h.revokeSession(r.Context(), s.token, s), revokeWait)
	if end := h.oidcLogoutURL(r, s); end != "" {
		// RP-initiated logout: the issuer ends its own session, then sends
		// the browser back to the sign-in page.
		http.Redirect(w, r, end, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// oidcName is the name on the "Sign in with" button, "" without one; it
// lets the page's form reach the issuer (allowIssuerForm).
func (h *Handler) oidcName(w http.ResponseWriter, r *http.Request) string {
	if !h.allowIssuerForm(w, r) {
		return ""
	}
	return h.oidc.opts.Name
}
