package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Revocation of an OIDC session's refresh token (RFC 7009, docs/ui.md):
// a session that ends while its refresh token is still good at the
// issuer — signed out, past ui.sessionttl, its person signed out of
// auth, or dropped by a renewal that did not accept the issuer's answer —
// asks the issuer's revocation_endpoint (from discovery) to revoke it, so
// that a copy of the token is worthless too. An issuer without the
// endpoint: the token is only dropped with the session. The request runs
// in the background, bounded by revokeTimeout; a sign-out waits for it at
// most revokeWait. A failure is logged, never shown: the person is signed
// out of the UI either way.

// Bounds of a revocation.
const (
	// revokeTimeout bounds one revocation (the issuer's discovery and
	// revocation endpoint).
	revokeTimeout = 5 * time.Second
	// revokeWait is how long a sign-out's answer waits for the revocation:
	// long enough that with a responsive issuer the token is revoked
	// before the browser reaches the issuer's end_session_endpoint, short
	// enough that a slow issuer does not hold the sign-out up.
	revokeWait = time.Second
	// maxRevokeAnswer bounds how much of the endpoint's answer is read
	// (its error, for the log).
	maxRevokeAnswer = 4 << 10
)

// errNoRevocationEndpoint: the issuer's discovery advertises no
// revocation_endpoint; the token is only dropped.
var errNoRevocationEndpoint = errors.New("ui: the issuer has no revocation_endpoint")

// revokeSession revokes the refresh token of the session s, which the
// cookie token opens, in the background; the channel is closed once the
// revocation is done (at once when s holds no refresh token). The caller
// deletes the session, which drops the sealed token.
func (h *Handler) revokeSession(ctx context.Context, token string, s *session) <-chan struct{} {
	if s.Refresh == "" || h.oidc == nil {
		return closedChan
	}
	refresh, err := openRefresh(token, s.key, s.Refresh)
	if err != nil {
		h.opts.Logger.WarnContext(ctx, "ui oidc refresh token not revoked", "subject", s.Person.Subject, "error", err.Error())
		return closedChan
	}
	return h.revokeLater(ctx, refresh, s.Person.Subject)
}

// closedChan is a channel that is closed: nothing to wait for.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// revokeLater revokes refresh (subject's) in the background, without
// ctx's cancellation (an answer sent must not abandon it), bounded by
// revokeTimeout; the channel is closed once it is done.
func (h *Handler) revokeLater(ctx context.Context, refresh, subject string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
		defer cancel()
		switch err := h.revoke(ctx, refresh); {
		case errors.Is(err, errNoRevocationEndpoint):
			h.opts.Logger.InfoContext(ctx, "ui oidc refresh token dropped", "audit", "ui", "subject", subject, "reason", err.Error())
		case err != nil:
			h.opts.Logger.WarnContext(ctx, "ui oidc refresh token not revoked", "subject", subject, "error", err.Error())
		default:
			h.opts.Logger.InfoContext(ctx, "ui oidc refresh token revoked", "audit", "ui", "subject", subject)
		}
	}()
	return done
}

// waitAtMost waits until done is closed, d passes or ctx ends.
func waitAtMost(ctx context.Context, done <-chan struct{}, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
}

// revoke asks the issuer's revocation_endpoint to revoke refresh (RFC
// 7009 §2.1: token and token_type_hint, the client authenticated as at
// the token endpoint: HTTP Basic with a secret, else its client_id in
// the form). The endpoint answers 200 also for a token already invalid.
// golang.org/x/oauth2 has no revocation: the request is made here, with
// the issuer's HTTP client.
func (h *Handler) revoke(ctx context.Context, refresh string) error {
	cfg, err := h.oidc.config(ctx)
	if err != nil {
		return fmt.Errorf("ui: revoking a refresh token: %w", err)
	}
	h.oidc.mu.Lock()
	endpoint := h.oidc.revocation
	h.oidc.mu.Unlock()
	if endpoint == "" {
		return errNoRevocationEndpoint
	}
	form := url.Values{"token": {refresh}, "token_type_hint": {"refresh_token"}}
	if cfg.ClientSecret == "" {
		form.Set("client_id", cfg.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("ui: revoking a refresh token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if cfg.ClientSecret != "" {
		// RFC 6749 §2.3.1: the id and secret form-encoded, as oauth2 does.
		req.SetBasicAuth(url.QueryEscape(cfg.ClientID), url.QueryEscape(cfg.ClientSecret))
	}
	res, err := h.oidc.opts.SignIn.HTTPClient().Do(req)
	if err != nil {
		return fmt.Errorf("ui: revoking a refresh token: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxRevokeAnswer))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("ui: revoking a refresh token: %s answered %s: %s", endpoint, res.Status, truncate(strings.TrimSpace(string(body)), 200))
	}
	return nil
}
