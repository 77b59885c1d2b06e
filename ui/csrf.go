package ui

import (
	"crypto/subtle"
	"net/http"
)

// Cross-site request forgery: every form that changes state carries a
// token the attacker's page cannot read. Signed-in forms carry the
// session's own token (synchronizer); the sign-in form, before any
// session, a random one also set as a cookie (double submit).
const (
	csrfField         = "csrf"
	loginCookie       = "imagegate_login_csrf"
	secureLoginCookie = "__Host-imagegate_login_csrf"
	// maxFormBytes bounds a form post's body.
	maxFormBytes = 16 << 10
)

// loginCookieName is the sign-in form's CSRF cookie under h's options.
func (h *Handler) loginCookieName() string {
	if h.opts.Secure {
		return secureLoginCookie
	}
	return loginCookie
}

// loginToken is the sign-in form's CSRF token: the browser's cookie, or
// a new one set now.
func (h *Handler) loginToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(h.loginCookieName()); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	t := newToken()
	// Path "/": a __Host- cookie must have it.
	http.SetCookie(w, &http.Cookie{Name: h.loginCookieName(), Value: t, Path: "/", HttpOnly: true,
		Secure: h.opts.Secure, SameSite: http.SameSiteStrictMode})
	return t
}

// parseForm reads a bounded form post; false (answered 400) when it is
// not one.
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request, s *session) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.renderError(w, r, s, http.StatusBadRequest, "Bad form", "The form could not be read: "+err.Error())
		return false
	}
	return true
}

// sameToken compares a posted token with the expected one in constant
// time; an empty expected token never matches.
func sameToken(posted, expected string) bool {
	return expected != "" && len(posted) <= maxTokenLen &&
		subtle.ConstantTimeCompare([]byte(posted), []byte(expected)) == 1
}

// refuseForgery answers a state-changing form without the right token.
func (h *Handler) refuseForgery(w http.ResponseWriter, r *http.Request, s *session) {
	h.opts.Logger.WarnContext(r.Context(), "ui form refused: missing or wrong csrf token", "audit", "ui", "path", r.URL.Path)
	h.renderError(w, r, s, http.StatusForbidden, "Form refused",
		"This form was not sent from this site's own page, or it expired. Go back, reload the page and try again.")
}
