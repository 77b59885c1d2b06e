package auth

import (
	"errors"
	"net/http"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
)

// LoginRefused is why checkLogin refused a username and password: the
// answer the token endpoint gives (status, OCI error) and, while the
// login is locked out, how long until it may be tried again.
type LoginRefused struct {
	// Locked: too many failed logins; RetryAfter says for how long.
	Locked     bool
	RetryAfter time.Duration
	status     int
	err        errcode.Error
	reason     string
}

// Error implements error with the message a person may be shown.
func (e *LoginRefused) Error() string { return e.err.Message }

// checkLogin authenticates username/password under the lockout rules: a
// (username, client) pair locks after Lockout.MaxFailures failures, a
// client address after Lockout.MaxPerAddress. Every door that takes a
// password (token endpoint, API, uploads, the UI's sign-in form) checks it
// here, so each failure is counted once, whichever door it reached.
func (s *Service) checkLogin(r *http.Request, username, password string) (Identity, *LoginRefused) {
	lo := s.opts.Lockout
	addr := s.clientAddr(r)
	keys := []lockKey{{"addr", addrKey(addr), lo.MaxPerAddress}}
	// Federated logins share usernames ("oidc", "gitlab-ci-token"):
	// counting them per name would let one broken pipeline lock out every
	// other on the same runner. They are counted per address only.
	if !looksLikeJWT(password) {
		keys = append(keys, lockKey{"user", pairKey(username, addr), lo.MaxFailures})
	}
	for _, k := range keys {
		if locked, left := lo.Locked(r.Context(), k.key); locked {
			s.countLogin("locked", attemptedMethod(username, password))
			return Identity{}, &LoginRefused{Locked: true, RetryAfter: left, status: http.StatusTooManyRequests,
				err:    errcode.ErrorCodeTooManyRequests.WithMessage("too many failed logins; try again later"),
				reason: "locked_out"}
		}
	}
	id, err := s.authenticate(r.Context(), username, password)
	if err != nil {
		result := "bad_credentials"
		if !errors.Is(err, ErrBadCredentials) {
			result = "error"
			s.opts.Logger.ErrorContext(r.Context(), "authentication error", "user", username, "error", err.Error())
		}
		s.countLogin(result, attemptedMethod(username, password))
		if result == "bad_credentials" {
			s.watchLoginFailed(r, username, password, addr)
		}
		for _, k := range keys {
			if lo.Failure(r.Context(), k.key, k.limit) {
				s.countLockout(k.kind)
				s.opts.Logger.WarnContext(r.Context(), "login locked out", "audit", "auth", "key", k.kind, "user", username, "client_ip", addr)
			}
		}
		return Identity{}, &LoginRefused{status: http.StatusUnauthorized,
			err: errcode.ErrorCodeUnauthorized.WithMessage("invalid username or password"), reason: result}
	}
	lo.Success(r.Context(), pairKey(username, addr))
	s.countLogin("success", id.Method)
	return id, nil
}
