package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/fleet"
)

// OIDCLogin configures sign-in with an OIDC issuer: the authorization-code
// flow with PKCE (S256), state and nonce (docs/ui.md).
type OIDCLogin struct {
	// Name is the issuer's name on the button: "Sign in with <Name>".
	Name string
	// SignIn verifies the ID tokens (audience: ClientID) and maps their
	// claims to access with the issuer's rules.
	SignIn *auth.OIDCSignIn
	// ClientID and ClientSecret (empty for a public client: PKCE alone)
	// are the UI's registration with the issuer.
	ClientID, ClientSecret string
	// RedirectURL is this UI's /ui/login/oidc/callback as the issuer
	// knows it; "": that path on the origin of the request that starts
	// the sign-in.
	RedirectURL string
	// Scopes asked for; "openid" is always asked for. "offline_access"
	// asks for a refresh token, which renews sessions (oidc_renew.go);
	// Google's issuer is asked with access_type=offline instead
	// (offlineParams).
	Scopes []string
}

// OIDCStateSpace is the fleet space of sign-ins under way with an issuer.
const OIDCStateSpace = "ui-oidc-state"

// discoveryWait bounds how long the sign-in page waits for the issuer's
// discovery document (fetched once, then kept) before showing no button.
const discoveryWait = 3 * time.Second

// oidcStateTTL is how long a person has to finish signing in at the issuer.
const oidcStateTTL = 10 * time.Minute

// Names of the cookie that binds a sign-in under way to the browser that
// started it (its value is the state).
const (
	oidcCookie       = "imagegate_oidc_state"
	secureOIDCCookie = "__Host-imagegate_oidc_state"
	// maxCodeLen bounds the authorization code read from the callback.
	maxCodeLen = 2048
)

// oidcState is what a sign-in under way keeps server-side, under the
// SHA-256 of its state: the PKCE verifier and the nonce never leave the
// server, and the entry is deleted on first use.
type oidcState struct {
	Verifier string `json:"verifier"`
	Nonce    string `json:"nonce"`
	Next     string `json:"next"`
	// Redirect is the redirect_uri sent, which the exchange repeats.
	Redirect string `json:"redirect"`
}

// oidcFlow is the OAuth 2.0 client, its endpoints discovered on first use
// (a sign-in), so that an issuer down at start-up delays nothing else.
type oidcFlow struct {
	opts *OIDCLogin
	mu   sync.Mutex
	cfg  *oauth2.Config
	// endSession is the issuer's end_session_endpoint, "" none (set with cfg).
	endSession string
	// revocation is the issuer's revocation_endpoint, "" none (set with cfg).
	revocation string
	// authOpts are added to every authorization request (set with cfg).
	authOpts []oauth2.AuthCodeOption
}

// config is the client, discovering the issuer's endpoints if not yet.
func (f *oidcFlow) config(ctx context.Context) (*oauth2.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cfg != nil {
		return f.cfg, nil
	}
	ep, err := f.opts.SignIn.Endpoints(ctx)
	if err != nil {
		return nil, err
	}
	scopes := []string{"openid"}
	for _, s := range f.opts.Scopes {
		if s != "openid" {
			scopes = append(scopes, s)
		}
	}
	scopes, f.authOpts = offlineParams(f.opts.SignIn.Issuer(), scopes)
	f.cfg = &oauth2.Config{ClientID: f.opts.ClientID, ClientSecret: f.opts.ClientSecret,
		Scopes: scopes, Endpoint: oauth2.Endpoint{AuthURL: ep.AuthURL, TokenURL: ep.TokenURL}}
	f.endSession, f.revocation = ep.EndSessionURL, ep.RevocationURL
	return f.cfg, nil
}

// authCodeOptions are the options every authorization request adds.
func (f *oidcFlow) authCodeOptions() []oauth2.AuthCodeOption {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.authOpts
}

// googleIssuer is Google's OIDC issuer, which refuses the offline_access
// scope and issues refresh tokens for access_type=offline instead.
const googleIssuer = "https://accounts.google.com"

// offlineParams are the scopes and options of an authorization request to
// issuer: for Google, a configured offline_access becomes
// access_type=offline with prompt=consent (without the prompt Google
// issues a refresh token only at a person's first consent).
func offlineParams(issuer string, scopes []string) ([]string, []oauth2.AuthCodeOption) {
	if issuer != googleIssuer || !slices.Contains(scopes, "offline_access") {
		return scopes, nil
	}
	scopes = slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return s == "offline_access" })
	return scopes, []oauth2.AuthCodeOption{oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent")}
}

func (h *Handler) oidcCookieName() string {
	if h.opts.Secure {
		return secureOIDCCookie
	}
	return oidcCookie
}

// oidcStart answers POST /ui/login/oidc (the sign-in page's button, with
// its CSRF token): a new state, PKCE verifier and nonce are stored, the
// state bound to this browser by a cookie, and the browser sent to the
// issuer.
func (h *Handler) oidcStart(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r, nil) {
		return
	}
	c, err := r.Cookie(h.loginCookieName())
	if err != nil || !sameToken(r.PostFormValue(csrfField), c.Value) {
		h.refuseForgery(w, r, nil)
		return
	}
	cfg, err := h.oidc.config(r.Context())
	if err != nil {
		h.opts.Logger.ErrorContext(r.Context(), "ui oidc discovery failed", "error", err.Error())
		h.renderError(w, r, nil, http.StatusBadGateway, "Unavailable", "The sign-in service cannot be reached right now; retry in a moment.")
		return
	}
	state := newToken()
	st := oidcState{Verifier: oauth2.GenerateVerifier(), Nonce: newToken(), Next: safeNext(r.PostFormValue("next")),
		Redirect: h.oidcRedirect(r)}
	v, err := json.Marshal(st)
	if err == nil {
		_, err = h.opts.Sessions.Put(r.Context(), OIDCStateSpace, storeKey(state), v, 0, oidcStateTTL)
	}
	if err != nil {
		h.opts.Logger.ErrorContext(r.Context(), "ui oidc state not stored", "error", err.Error())
		h.renderError(w, r, nil, http.StatusServiceUnavailable, "Unavailable", "Signing in is not possible right now; retry in a moment.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: h.oidcCookieName(), Value: state, Path: "/", MaxAge: int(oidcStateTTL.Seconds()),
		HttpOnly: true, Secure: h.opts.Secure, SameSite: http.SameSiteLaxMode}) // Lax: sent on the issuer's redirect back
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(st.Verifier), oauth2.SetAuthURLParam("nonce", st.Nonce),
		oauth2.SetAuthURLParam("redirect_uri", st.Redirect)}, h.oidc.authCodeOptions()...)
	http.Redirect(w, r, cfg.AuthCodeURL(state, opts...), http.StatusSeeOther)
}

// oidcCallback answers GET /ui/login/oidc/callback: the state must be this
// browser's (cookie) and still stored (it is deleted now: single use);
// the code is exchanged with the PKCE verifier, the ID token verified
// with the nonce, and the person signed in like the form's.
func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	c, err := r.Cookie(h.oidcCookieName())
	http.SetCookie(w, &http.Cookie{Name: h.oidcCookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.opts.Secure, SameSite: http.SameSiteLaxMode})
	if err != nil || !sameToken(state, c.Value) {
		h.refuseOIDC(w, r, http.StatusBadRequest, "state not this browser's", "This sign-in was not started in this browser. Sign in again.")
		return
	}
	st, err := h.takeOIDCState(r.Context(), state)
	if errors.Is(err, fleet.ErrNotFound) || errors.Is(err, fleet.ErrConflict) {
		h.refuseOIDC(w, r, http.StatusBadRequest, "state unknown, expired or used", "This sign-in expired or was already used. Sign in again.")
		return
	}
	if err != nil {
		h.opts.Logger.ErrorContext(r.Context(), "ui oidc state unreadable", "error", err.Error())
		h.renderError(w, r, nil, http.StatusServiceUnavailable, "Unavailable", "Signing in is not possible right now; retry in a moment.")
		return
	}
	if e := q.Get("error"); e != "" {
		h.refuseOIDC(w, r, http.StatusUnauthorized, "issuer refused: "+truncate(e, 64), "The sign-in service did not sign you in ("+truncate(e, 64)+").")
		return
	}
	code := q.Get("code")
	if code == "" || len(code) > maxCodeLen {
		h.refuseOIDC(w, r, http.StatusBadRequest, "no or oversized code", "The sign-in service's answer holds no usable code. Sign in again.")
		return
	}
	person, tokens, err := h.oidcPerson(r.Context(), code, st)
	if err != nil {
		h.opts.Logger.WarnContext(r.Context(), "ui oidc sign-in refused", "audit", "ui", "error", err.Error())
		status, msg := http.StatusBadGateway, "The sign-in service's answer could not be used; retry in a moment."
		if errors.Is(err, auth.ErrBadCredentials) {
			status, msg = http.StatusUnauthorized, "The sign-in service's answer was not accepted, or its rules grant you no access here."
		}
		h.renderError(w, r, nil, status, "Not signed in", msg)
		return
	}
	if err := h.startSession(w, r, person, tokens); errors.Is(err, errTokenExpired) {
		h.refuseOIDC(w, r, http.StatusUnauthorized, "id token expires now", "The sign-in service's answer expires at once; sign in again.")
		return
	} else if err != nil {
		h.opts.Logger.ErrorContext(r.Context(), "ui session not stored", "error", err.Error())
		h.renderError(w, r, nil, http.StatusServiceUnavailable, "Unavailable", "Signing in is not possible right now; retry in a moment.")
		return
	}
	h.opts.Logger.InfoContext(r.Context(), "ui signed in", "audit", "ui", "subject", person.Subject, "method", auth.MethodOIDC)
	http.Redirect(w, r, safeNext(st.Next), http.StatusSeeOther)
}

// takeOIDCState reads the sign-in stored under state and marks it used;
// of two callbacks with one state, only one gets it (the other
// ErrConflict or ErrNotFound). The mark is a compare-and-swap on the
// item's version: a Delete would not do, since deleting an absent key is
// no error and a second callback that read the state before the first
// deleted it would get it too. The used mark expires on its own.
func (h *Handler) takeOIDCState(ctx context.Context, state string) (oidcState, error) {
	key := storeKey(state)
	it, err := h.opts.Sessions.Get(ctx, OIDCStateSpace, key)
	if err != nil {
		return oidcState{}, err
	}
	if string(it.Value) == usedOIDCState {
		return oidcState{}, fmt.Errorf("ui: sign-in state already used: %w", fleet.ErrNotFound)
	}
	if _, err := h.opts.Sessions.Put(ctx, OIDCStateSpace, key, []byte(usedOIDCState), it.Version, usedOIDCStateTTL); err != nil {
		return oidcState{}, err
	}
	var st oidcState
	if err := json.Unmarshal(it.Value, &st); err != nil {
		return oidcState{}, fmt.Errorf("ui: decoding a sign-in state: %w", err)
	}
	return st, nil
}

// usedOIDCState replaces a sign-in state once a callback took it, for
// usedOIDCStateTTL (longer than any callback's retry of the same URL).
const (
	usedOIDCState    = "used"
	usedOIDCStateTTL = 10 * time.Minute
)

// oidcPerson exchanges code (with the PKCE verifier) for tokens and
// verifies the ID token with st's nonce; the tokens are what the session
// keeps (the refresh token when the issuer gave one).
func (h *Handler) oidcPerson(ctx context.Context, code string, st oidcState) (auth.Person, oidcTokens, error) {
	cfg, err := h.oidc.config(ctx)
	if err != nil {
		return auth.Person{}, oidcTokens{}, err
	}
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, oauth2.HTTPClient, h.opts.OIDC.SignIn.HTTPClient()), 15*time.Second)
	defer cancel()
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier), oauth2.SetAuthURLParam("redirect_uri", st.Redirect))
	if err != nil {
		return auth.Person{}, oidcTokens{}, fmt.Errorf("ui: exchanging the code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return auth.Person{}, oidcTokens{}, fmt.Errorf("%w: the token response holds no id_token", auth.ErrBadCredentials)
	}
	p, err := h.opts.OIDC.SignIn.Person(ctx, raw, st.Nonce)
	return p, oidcTokens{IDToken: raw, Refresh: tok.RefreshToken, Nonce: st.Nonce}, err
}

// refuseOIDC answers a callback that belongs to no sign-in under way.
func (h *Handler) refuseOIDC(w http.ResponseWriter, r *http.Request, status int, why, msg string) {
	h.opts.Logger.WarnContext(r.Context(), "ui oidc callback refused", "audit", "ui", "reason", why)
	h.renderError(w, r, nil, status, "Not signed in", msg)
}

// truncate bounds s to n bytes.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// oidcCallbackPath is where the issuer sends the browser back.
const oidcCallbackPath = "/ui/login/oidc/callback"

// oidcRedirect is the redirect_uri of a sign-in r starts: the configured
// one, else the callback on r's own origin.
func (h *Handler) oidcRedirect(r *http.Request) string {
	if h.oidc.opts.RedirectURL != "" {
		return h.oidc.opts.RedirectURL
	}
	scheme := "http"
	if r.TLS != nil || h.opts.Secure {
		scheme = "https"
	}
	return scheme + "://" + r.Host + oidcCallbackPath
}

// allowIssuerForm lets the sign-in page's issuer button work under the
// CSP: a form's redirect is bound by form-action, so the page's policy
// also names the origin of the issuer's authorization endpoint (and only
// that page's). It reports false when the endpoint is unknown (discovery
// failed): the page then shows no button.
func (h *Handler) allowIssuerForm(w http.ResponseWriter, r *http.Request) bool {
	if h.oidc == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), discoveryWait)
	defer cancel()
	cfg, err := h.oidc.config(ctx)
	if err != nil {
		h.opts.Logger.WarnContext(r.Context(), "ui oidc discovery failed", "error", err.Error())
		return false
	}
	u, err := url.Parse(cfg.Endpoint.AuthURL)
	if err != nil {
		return false
	}
	origin := u.Scheme + "://" + u.Host
	w.Header().Set("Content-Security-Policy",
		strings.Replace(ContentSecurityPolicy, "form-action 'self'", "form-action 'self' "+origin, 1))
	return true
}
