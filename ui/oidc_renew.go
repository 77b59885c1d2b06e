package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"golang.org/x/oauth2"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/fleet"
)

// Renewal of OIDC sessions (docs/ui.md): when the issuer gave a refresh
// token at sign-in, the request that finds the session's ID token expired
// or about to expire renews it with a refresh-token grant, transparently;
// the new ID token is verified like the sign-in's, must name the same
// subject, and its claims decide the person's scopes afresh. A refusal
// (revoked or expired refresh token, a token not accepted) ends the
// session: the person signs in again. One renewal runs at a time per
// session: in a process, requests share it (singleflight); across
// replicas, the renewer claims the stored session by compare-and-swap
// (session.Renewing) and the others use the token while it is live, or
// wait for the claimer's result.

// Bounds of a renewal.
const (
	// renewTimeout bounds one renewal: the issuer's token endpoint, its
	// keys, the store; a claim lapses after it.
	renewTimeout = 10 * time.Second
	// renewPoll is how often a request whose token expired reads the
	// session while another replica renews it.
	renewPoll = 100 * time.Millisecond
	// maxRenewMargin is how long before its expiry a token is renewed at
	// most (a quarter of its life when shorter), so that no request
	// finds it expired in the common case.
	maxRenewMargin = time.Minute
)

var (
	// errRenewRefused: the issuer refused to renew, or its answer is not
	// accepted; the session ends.
	errRenewRefused = errors.New("ui: the session's renewal was refused")
	// errRenewUnavailable: renewing failed for now (the issuer or the
	// store unreachable); the session is kept and renewed later.
	errRenewUnavailable = errors.New("ui: the session cannot be renewed now")
)

// renewDue reports whether s's ID token expires within the margin at now.
func renewDue(s *session, now time.Time) bool {
	margin := min(maxRenewMargin, s.Person.Expires.Sub(s.Obtained)/4)
	return !now.Before(s.Person.Expires.Add(-margin))
}

// keepTokenLive keeps the session s (read with the cookie token) backed
// by a live ID token at now: renewed when due and renewable, else ended
// (errNoSession) once expired. A renewal that fails for now leaves s as it
// is while its token lives, else is an error wrapping errRenewUnavailable.
func (h *Handler) keepTokenLive(ctx context.Context, token string, s *session, now time.Time) error {
	live := now.Before(s.Person.Expires)
	if s.Refresh == "" || h.oidc == nil || !renewDue(s, now) {
		if live {
			return nil
		}
		// The store's TTL ends it too; this holds for a store whose expiry is coarse.
		h.endSession(ctx, s.key)
		return errNoSession
	}
	renewed, err := h.renew(ctx, token, s.key)
	switch {
	case err == nil:
		renewed.key = s.key
		*s = *renewed
		return nil
	case errors.Is(err, errNoSession):
		return errNoSession
	case errors.Is(err, errRenewRefused):
		h.endSession(ctx, s.key)
		return errNoSession
	case live:
		h.opts.Logger.WarnContext(ctx, "ui oidc renewal postponed", "subject", s.Person.Subject, "error", err.Error())
		return nil
	}
	return err
}

// renew renews the session under key once for all the process's requests
// that ask at the same time. The renewal runs on without the request's
// cancellation (bounded by renewTimeout): abandoned half-way, a refresh
// token the issuer rotated would be lost.
func (h *Handler) renew(ctx context.Context, token, key string) (*session, error) {
	done := h.renewals.DoChan(key, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), renewTimeout)
		defer cancel()
		return h.renewOnce(ctx, token, key)
	})
	select {
	case res := <-done:
		if res.Err != nil {
			return nil, res.Err
		}
		s := *res.Val.(*session) // shared by the flight's requests: a copy each
		return &s, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", errRenewUnavailable, ctx.Err())
	}
}

// renewOnce claims the session under key, renews it with the issuer and
// stores the result; when another request renewed it meanwhile, that is
// the result.
func (h *Handler) renewOnce(ctx context.Context, token, key string) (*session, error) {
	s, version, err := h.claimRenewal(ctx, key)
	if err != nil || version == 0 {
		return s, err
	}
	renewed, err := h.refreshSession(ctx, token, key, s)
	if errors.Is(err, errRenewRefused) {
		// Ended here, under the claim: no other replica tries the refused token.
		h.opts.Logger.WarnContext(ctx, "ui oidc renewal refused", "audit", "ui", "subject", s.Person.Subject, "error", err.Error())
		h.endSession(ctx, key)
		return nil, err
	}
	if err != nil {
		h.opts.Logger.ErrorContext(ctx, "ui oidc renewal failed", "subject", s.Person.Subject, "error", err.Error())
		s.Renewing = time.Time{}
		_, _ = h.putSession(ctx, key, s, version) // release the claim; else it lapses
		return nil, err
	}
	if _, err := h.putSession(ctx, key, renewed, version); errors.Is(err, fleet.ErrConflict) || errors.Is(err, errNoSession) {
		// Signed out meanwhile: the sign-out revoked the refresh token it
		// read; the one the issuer may have rotated to is revoked here.
		renewed.key = key
		h.revokeSession(ctx, token, renewed)
		return nil, errNoSession
	} else if err != nil {
		// The issuer may have rotated the refresh token: the stored one
		// then fails at the next renewal, which ends the session.
		return nil, fmt.Errorf("%w: %w", errRenewUnavailable, err)
	}
	h.opts.Logger.InfoContext(ctx, "ui oidc session renewed", "audit", "ui", "subject", renewed.Person.Subject,
		"expires", renewed.Person.Expires, "rotated", renewed.Refresh != s.Refresh,
		"scopes_changed", !slices.EqualFunc(renewed.Person.Scopes, s.Person.Scopes, sameScope))
	return renewed, nil
}

// sameScope compares two scopes.
func sameScope(a, b auth.Scope) bool {
	return a.Repositories == b.Repositories && slices.Equal(a.Actions, b.Actions)
}

// claimRenewal reads the session under key and claims its renewal,
// returning it with the claim's version. Version 0 returns a session that
// needs no renewal now: another request renewed it, or renews it while
// its token is still live.
func (h *Handler) claimRenewal(ctx context.Context, key string) (*session, int64, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, 0, fmt.Errorf("%w: claiming the renewal: %w", errRenewUnavailable, err)
		}
		it, err := h.opts.Sessions.Get(ctx, SessionSpace, key)
		if errors.Is(err, fleet.ErrNotFound) {
			return nil, 0, errNoSession
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%w: reading the session: %w", errRenewUnavailable, err)
		}
		var s session
		if err := json.Unmarshal(it.Value, &s); err != nil {
			return nil, 0, errNoSession
		}
		now := h.now()
		switch {
		case !renewDue(&s, now):
			return &s, 0, nil
		case s.Refresh == "":
			return nil, 0, fmt.Errorf("%w: the session holds no refresh token", errRenewRefused)
		case s.Renewing.After(now) && now.Before(s.Person.Expires):
			return &s, 0, nil
		case s.Renewing.After(now):
			t := time.NewTimer(renewPoll)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
			continue
		}
		s.Renewing = now.Add(renewTimeout)
		v, err := h.putSession(ctx, key, &s, it.Version)
		if errors.Is(err, fleet.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%w: claiming the renewal: %w", errRenewUnavailable, err)
		}
		return &s, v, nil
	}
}

// putSession writes s under key at version, to expire with the session.
func (h *Handler) putSession(ctx context.Context, key string, s *session, version int64) (int64, error) {
	ttl := s.Created.Add(h.opts.SessionTTL).Sub(h.now()).Truncate(time.Second)
	if ttl < time.Second {
		return 0, errNoSession
	}
	v, err := json.Marshal(s)
	if err != nil {
		return 0, fmt.Errorf("ui: encoding a session: %w", err)
	}
	return h.opts.Sessions.Put(ctx, SessionSpace, key, v, version, ttl)
}

// refreshSession asks the issuer for new tokens with s's refresh token
// and returns the renewed session: the new ID token verified like a
// sign-in's and of the same subject, the person's scopes from its claims,
// the refresh token the issuer rotated to (or the same one).
func (h *Handler) refreshSession(ctx context.Context, token, key string, s *session) (*session, error) {
	refresh, err := openRefresh(token, key, s.Refresh)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRenewRefused, err)
	}
	cfg, err := h.oidc.config(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRenewUnavailable, err)
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, h.oidc.opts.SignIn.HTTPClient())
	tok, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: refresh}).Token()
	if err != nil {
		return nil, renewError("the refresh grant", err)
	}
	p, raw, err := h.renewedPerson(ctx, tok, s)
	if err != nil {
		if errors.Is(err, errRenewRefused) {
			// The session ends, but the issuer took the grant: its refresh
			// token (rotated or not) is still good there.
			h.revokeLater(ctx, tok.RefreshToken, s.Person.Subject) // the old one when the answer holds none
		}
		return nil, err
	}
	now := h.now().UTC()
	sealed, err := sealRefresh(token, key, tok.RefreshToken) // the old one when the answer holds none
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRenewRefused, err)
	}
	n := *s
	n.Person, n.IDToken, n.Refresh, n.Obtained, n.Renewing = p, raw, sealed, now, time.Time{}
	return &n, nil
}

// renewedPerson is the person of the ID token of tok, a refresh grant's
// answer for s: verified like a sign-in's, of s's subject, live for a
// second at least; and that ID token.
func (h *Handler) renewedPerson(ctx context.Context, tok *oauth2.Token, s *session) (auth.Person, string, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return auth.Person{}, "", fmt.Errorf("%w: the issuer's answer holds no id_token", errRenewRefused)
	}
	p, err := h.oidc.opts.SignIn.Renewed(ctx, raw, s.Nonce)
	if err != nil {
		return auth.Person{}, "", renewError("the renewed ID token", err)
	}
	if p.Subject != s.Person.Subject {
		return auth.Person{}, "", fmt.Errorf("%w: the renewed ID token names subject %q, not %q", errRenewRefused, p.Subject, s.Person.Subject)
	}
	if p.Expires.Sub(h.now()) < time.Second {
		return auth.Person{}, "", fmt.Errorf("%w: the renewed ID token expires now", errRenewRefused)
	}
	return p, raw, nil
}

// renewError classes a failure of step: the issuer's 4xx answers (RFC
// 6749 invalid_grant: the refresh token revoked or expired) and tokens
// not accepted are refusals; anything else (network, 5xx, keys
// unreachable) is for now.
func renewError(step string, err error) error {
	var re *oauth2.RetrieveError
	if (errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500) ||
		errors.Is(err, auth.ErrBadCredentials) {
		return fmt.Errorf("%w: %s: %w", errRenewRefused, step, err)
	}
	return fmt.Errorf("%w: %s: %w", errRenewUnavailable, step, err)
}

// refuseUnrenewable answers a request whose session could not be renewed
// for now.
func (h *Handler) refuseUnrenewable(w http.ResponseWriter, r *http.Request) {
	h.renderError(w, r, nil, http.StatusServiceUnavailable, "Unavailable",
		"Your session could not be renewed with the sign-in service right now; retry in a moment.")
}
