package ui

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/imagegate/imagegate/auth"
)

// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): signing
// out of a session that an OIDC sign-in started also ends the person's
// session at the issuer, when its discovery advertises an
// end_session_endpoint.

// endSessionURL is the issuer's end_session_endpoint, "" when it has
// none or discovery fails now (bounded by discoveryWait; kept once known).
func (h *Handler) endSessionURL(ctx context.Context) string {
	if h.oidc == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, discoveryWait)
	defer cancel()
	if _, err := h.oidc.config(ctx); err != nil {
		return ""
	}
	h.oidc.mu.Lock()
	defer h.oidc.mu.Unlock()
	return h.oidc.endSession
}

// oidcLogoutURL is where the sign-out of s sends the browser: the issuer's
// end_session_endpoint with the session's ID token as id_token_hint, the
// client id, and the sign-in page as post_logout_redirect_uri; "" for a
// session that no OIDC sign-in started, or an issuer without one.
func (h *Handler) oidcLogoutURL(r *http.Request, s *session) string {
	if s.Person.Method != auth.MethodOIDC {
		return ""
	}
	end := h.endSessionURL(r.Context())
	u, err := url.Parse(end)
	if end == "" || err != nil {
		return ""
	}
	q := u.Query()
	if s.IDToken != "" {
		q.Set("id_token_hint", s.IDToken)
	}
	q.Set("client_id", h.oidc.opts.ClientID)
	q.Set("post_logout_redirect_uri", h.postLogoutRedirect(r))
	u.RawQuery = q.Encode()
	return u.String()
}

// postLogoutRedirect is this UI's sign-in page on the origin the issuer
// knows (that of the redirect URL of sign-ins).
func (h *Handler) postLogoutRedirect(r *http.Request) string {
	callback := h.oidcRedirect(r)
	if u, err := url.Parse(callback); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host + "/ui/login"
	}
	return strings.TrimSuffix(callback, oidcCallbackPath) + "/ui/login"
}

// allowLogoutRedirect lets the sign-out form of a page shown to an OIDC
// session follow the redirect to the issuer under the CSP (form-action
// binds a form's redirects too): the page's policy names the
// end_session_endpoint's origin.
func (h *Handler) allowLogoutRedirect(w http.ResponseWriter, r *http.Request, s *session) {
	if s == nil || s.Person.Method != auth.MethodOIDC {
		return
	}
	u, err := url.Parse(h.endSessionURL(r.Context()))
	if err != nil || u.Host == "" {
		return
	}
	w.Header().Set("Content-Security-Policy",
		strings.Replace(ContentSecurityPolicy, "form-action 'self'", "form-action 'self' "+u.Scheme+"://"+u.Host, 1))
}
