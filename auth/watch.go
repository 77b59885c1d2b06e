package auth

import (
	"context"
	"net/http"

	distauth "github.com/distribution/distribution/v3/registry/auth"
	"github.com/golang-jwt/jwt/v5"
)

// Watcher is told what authentication sees, to detect suspicious activity
// (package security implements it; auth does not depend on it). Every
// method is called on the request's path: it must return at once — queue
// and return — and never fail the request.
type Watcher interface {
	// LoginFailed: a password login by username from addr failed (bad
	// credentials). username is "" for federated logins (an ID token as
	// the password), whose usernames many clients share.
	LoginFailed(ctx context.Context, username, addr string)
	// TokenUsed: an access token ("jti:<id>") or a refresh chain
	// ("chain:<id>") of subject was presented from addr and accepted.
	TokenUsed(ctx context.Context, token, subject, addr string)
	// RepositoryRead: subject, authenticated by method, was granted a pull
	// of repository by a GET (a manifest or blob read) from addr.
	RepositoryRead(ctx context.Context, subject, method, repository, addr string)
}

// SetWatcher makes w see logins, token uses and reads from now on; call it
// before serving. nil stops watching.
func (s *Service) SetWatcher(w Watcher) { s.watcher = w }

// watchLoginFailed reports a failed password login.
func (s *Service) watchLoginFailed(r *http.Request, username, password, addr string) {
	if s.watcher == nil {
		return
	}
	if looksLikeJWT(password) {
		username = ""
	}
	s.watcher.LoginFailed(r.Context(), username, addr)
}

// watchGranted reports an access token accepted by the access controller,
// and the repositories a GET reads with it.
func (s *Service) watchGranted(r *http.Request, c *Claims, access []distauth.Access) {
	if s.watcher == nil {
		return
	}
	addr := s.clientAddr(r)
	if c.ID != "" {
		s.watcher.TokenUsed(r.Context(), "jti:"+c.ID, c.Subject, addr)
	}
	if r.Method != http.MethodGet {
		return
	}
	for _, a := range access {
		if a.Type == "repository" && a.Action == ActionPull {
			s.watcher.RepositoryRead(r.Context(), c.Subject, c.AuthMethod, a.Name, addr)
		}
	}
}

// watchRefresh reports a refresh token accepted by the token endpoint:
// its chain was used from the request's address. The token was verified;
// only its claims are read here.
func (s *Service) watchRefresh(r *http.Request, token string) {
	if s.watcher == nil {
		return
	}
	var c Claims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &c); err != nil || c.Chain == "" {
		return
	}
	s.watcher.TokenUsed(r.Context(), "chain:"+c.Chain, c.Subject, s.clientAddr(r))
}
