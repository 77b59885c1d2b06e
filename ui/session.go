package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/imagegate/imagegate/api"
	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/fleet"
)

// SessionSpace is the fleet space of UI sessions.
const SessionSpace = "ui-session"

// sessionCookie names the session cookie; with Secure, the __Host- prefix
// also binds it to this host and path "/" (browsers refuse it otherwise).
const (
	sessionCookie       = "imagegate_session"
	secureSessionCookie = "__Host-imagegate_session"
	// maxTokenLen bounds a session or CSRF token read from a request.
	maxTokenLen = 64
)

// session is one sign-in, as kept in the fleet store under the SHA-256 of
// its token (the token itself is only in the person's cookie).
type session struct {
	Person  auth.Person `json:"person"`
	CSRF    string      `json:"csrf"`
	Created time.Time   `json:"created"`
	// IDToken is the ID token of an OIDC sign-in (the latest renewal's),
	// kept server-side only for the sign-out's id_token_hint
	// (RP-initiated logout).
	IDToken string `json:"id_token,omitempty"`
	// Refresh is the issuer's refresh token, sealed for this session's
	// cookie (oidc_seal.go); "": the session ends with its ID token.
	Refresh string `json:"refresh,omitempty"`
	// Nonce is the sign-in's nonce: a renewed ID token that carries one
	// must carry this one.
	Nonce string `json:"nonce,omitempty"`
	// Obtained is when the current ID token was got (sign-in or renewal).
	Obtained time.Time `json:"obtained,omitzero"`
	// Renewing, while after now, says that a request (of any replica)
	// is renewing the session: it claimed it by compare-and-swap.
	Renewing time.Time `json:"renewing,omitzero"`

	key    string     // store key
	token  string     // the cookie's token, which opens Refresh (never stored)
	caller api.Caller // judged for this request
}

// oidcTokens are what an OIDC sign-in keeps in its session.
type oidcTokens struct {
	IDToken, Refresh, Nonce string
}

// newToken is 32 random bytes, URL-safe base64.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// storeKey is where a session token's session is kept.
func storeKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// cookieName is the session cookie's name under h's options.
func (h *Handler) cookieName() string {
	if h.opts.Secure {
		return secureSessionCookie
	}
	return sessionCookie
}

// errTokenExpired: the ID token expires before a session could start.
var errTokenExpired = errors.New("ui: the ID token expires now")

// startSession stores a new session for p and sets its cookie: a new
// token on every sign-in, so a token planted before cannot be adopted. The
// session lasts ui.sessionttl; an OIDC sign-in's (p.Expires: its ID
// token's expiry) ends by then unless the issuer gave a refresh token,
// which renews it (oidc_renew.go). The ID token is kept for the
// sign-out's hint.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, p auth.Person, t oidcTokens) error {
	token := newToken()
	now := h.now().UTC()
	ttl := h.opts.SessionTTL
	if !p.Expires.IsZero() && p.Expires.Sub(now) < time.Second {
		return errTokenExpired
	}
	s := session{Person: p, CSRF: newToken(), Created: now, Obtained: now, IDToken: t.IDToken, Nonce: t.Nonce}
	if t.Refresh != "" {
		sealed, err := sealRefresh(token, storeKey(token), t.Refresh)
		if err != nil {
			h.opts.Logger.WarnContext(r.Context(), "ui oidc refresh token not kept", "subject", p.Subject, "error", err.Error())
		}
		s.Refresh = sealed
	}
	if !p.Expires.IsZero() && s.Refresh == "" {
		ttl = min(ttl, p.Expires.Sub(now).Truncate(time.Second))
	}
	if ttl < time.Second {
		return errTokenExpired
	}
	v, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("ui: encoding a session: %w", err)
	}
	if _, err := h.opts.Sessions.Put(r.Context(), SessionSpace, storeKey(token), v, 0, ttl); err != nil {
		return fmt.Errorf("ui: storing a session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{Name: h.cookieName(), Value: token, Path: "/", MaxAge: int(ttl.Seconds()),
		HttpOnly: true, Secure: h.opts.Secure, SameSite: http.SameSiteLaxMode})
	return nil
}

// errNoSession: the request carries no live session.
var errNoSession = errors.New("ui: not signed in")

// currentSession is r's session with its caller judged now, errNoSession
// when there is none (or it ended: expired, signed out, the person's
// password changed). Without authentication every request has a session
// whose caller may do everything.
func (h *Handler) currentSession(r *http.Request) (*session, error) {
	if h.opts.Auth == nil {
		return &session{caller: api.Anyone()}, nil
	}
	c, err := r.Cookie(h.cookieName())
	if err != nil || c.Value == "" || len(c.Value) > maxTokenLen {
		return nil, errNoSession
	}
	key := storeKey(c.Value)
	it, err := h.opts.Sessions.Get(r.Context(), SessionSpace, key)
	if errors.Is(err, fleet.ErrNotFound) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("ui: reading a session: %w", err)
	}
	var s session
	if err := json.Unmarshal(it.Value, &s); err != nil {
		return nil, errNoSession
	}
	s.key = key
	now := h.now()
	if h.opts.SessionTTL > 0 && !now.Before(s.Created.Add(h.opts.SessionTTL)) {
		// The store's TTL ends it too; this holds for a store whose expiry is coarse.
		h.endSession(r.Context(), key)
		h.revokeSession(r.Context(), c.Value, &s)
		return nil, errNoSession
	}
	if !s.Person.Expires.IsZero() {
		if err := h.keepTokenLive(r.Context(), c.Value, &s, now); err != nil {
			return nil, err
		}
	}
	caller, err := h.opts.Auth.PersonCaller(r, s.Person)
	if errors.Is(err, auth.ErrSignedOut) {
		h.endSession(r.Context(), key)
		h.revokeSession(r.Context(), c.Value, &s)
		return nil, errNoSession
	}
	if err != nil {
		return nil, err
	}
	s.caller, s.token = caller, c.Value
	return &s, nil
}

// endSession deletes a session from the store, whatever its version.
func (h *Handler) endSession(ctx context.Context, key string) {
	for range 3 {
		it, err := h.opts.Sessions.Get(ctx, SessionSpace, key)
		if err != nil {
			return // gone already, or the store is down: it expires by itself
		}
		if err := h.opts.Sessions.Delete(ctx, SessionSpace, key, it.Version); !errors.Is(err, fleet.ErrConflict) {
			return
		}
	}
}

// clearCookie expires the session cookie in the browser.
func (h *Handler) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: h.cookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.opts.Secure, SameSite: http.SameSiteLaxMode})
}

// signedIn wraps a page that needs a session: without one, a GET is sent
// to the sign-in form (and back afterwards), anything else refused.
func (h *Handler) signedIn(next func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.currentSession(r)
		switch {
		case errors.Is(err, errNoSession) && r.Method == http.MethodGet:
			http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		case errors.Is(err, errNoSession):
			h.renderError(w, r, nil, http.StatusForbidden, "Signed out", "Your session ended; sign in again.")
		case errors.Is(err, errRenewUnavailable):
			h.opts.Logger.ErrorContext(r.Context(), "ui session not renewed", "error", err.Error())
			h.refuseUnrenewable(w, r)
		case err != nil:
			h.opts.Logger.ErrorContext(r.Context(), "ui session unavailable", "error", err.Error())
			h.renderError(w, r, nil, http.StatusServiceUnavailable, "Unavailable", "Sessions cannot be read right now; retry in a moment.")
		default:
			next(w, r, s)
		}
	}
}
