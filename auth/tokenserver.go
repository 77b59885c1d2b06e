package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
)

// tokenResponse is the token service's answer (Docker token spec and its
// OAuth2 variant).
type tokenResponse struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	IssuedAt     string `json:"issued_at"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// maxTokenForm bounds a POSTed token request.
const maxTokenForm = 64 << 10

// ServeHTTP answers /auth/token: GET with Basic credentials (or none, for
// anonymous access), or POST with an OAuth2 form (grant_type password or
// refresh_token). It grants the intersection of the scopes asked for and
// what the caller's roles allow — possibly nothing, which is still a token.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var (
		username, password, refresh string
		hasCreds, offline           bool
		scopes                      []string
	)
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		if err := s.checkService(q.Get("service")); err != nil {
			s.fail(w, r, http.StatusBadRequest, errcode.ErrorCodeUnsupported.WithMessage(err.Error()), "", "bad_request")
			return
		}
		// Several scopes may come as repeated parameters or, as challenges
		// list them, space-separated in one.
		for _, v := range q["scope"] {
			scopes = append(scopes, strings.Fields(v)...)
		}
		username, password, hasCreds = r.BasicAuth()
		offline = q.Get("offline_token") == "true"
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxTokenForm)
		if err := r.ParseForm(); err != nil {
			s.fail(w, r, http.StatusBadRequest, errcode.ErrorCodeUnsupported.WithMessage("malformed token request"), "", "bad_request")
			return
		}
		f := r.PostForm
		if err := s.checkService(f.Get("service")); err != nil {
			s.fail(w, r, http.StatusBadRequest, errcode.ErrorCodeUnsupported.WithMessage(err.Error()), "", "bad_request")
			return
		}
		scopes = strings.Fields(f.Get("scope"))
		offline = f.Get("access_type") == "offline"
		switch f.Get("grant_type") {
		case "password":
			username, password, hasCreds = f.Get("username"), f.Get("password"), true
		case "refresh_token":
			refresh = f.Get("refresh_token")
		default:
			s.fail(w, r, http.StatusBadRequest, errcode.ErrorCodeUnsupported.WithMessage("grant_type must be password or refresh_token"), "", "bad_request")
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		s.fail(w, r, http.StatusMethodNotAllowed, errcode.ErrorCodeUnsupported.WithMessage("use GET or POST"), "", "bad_request")
		return
	}

	asked := make([]ResourceActions, 0, len(scopes))
	for _, sc := range scopes {
		ra, err := ParseScope(sc)
		if err != nil {
			s.fail(w, r, http.StatusBadRequest, errcode.ErrorCodeUnsupported.WithMessage("invalid scope").WithDetail(err.Error()), username, "bad_request")
			return
		}
		asked = append(asked, ra)
	}

	var id *Identity
	switch {
	case refresh != "":
		c, err := s.verifier.VerifyRefresh(refresh)
		if err != nil {
			s.fail(w, r, http.StatusUnauthorized, errcode.ErrorCodeUnauthorized.WithMessage("invalid refresh token"), "", "bad_refresh_token")
			return
		}
		id = &Identity{Subject: c.Subject, Method: c.AuthMethod}
		if err := s.stillValid(r, id); err != nil || c.AuthMethod == MethodOIDC {
			s.fail(w, r, http.StatusUnauthorized, errcode.ErrorCodeUnauthorized.WithMessage("the account behind this refresh token is no longer valid"), c.Subject, "revoked")
			return
		}
	case hasCreds:
		got, ok := s.login(w, r, username, password)
		if !ok {
			return
		}
		id = &got
	}

	policy := s.Policy()
	if id != nil {
		id.Roles = mergeRoles(id.Roles, policy.Roles(id))
		id.Admin = policy.IsAdmin(id)
	}
	granted := policy.Grant(id, asked)
	tok, issued, err := s.issuer.Issue(identityOrAnonymous(id), granted)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, errcode.ErrorCodeUnknown.WithMessage("token signing failed"), username, "error")
		return
	}
	resp := tokenResponse{Token: tok, AccessToken: tok, ExpiresIn: int(s.issuer.TTL().Seconds()), IssuedAt: issued.UTC().Format(time.RFC3339)}
	// OIDC identities get no refresh token: it would turn a short-lived
	// CI ID token into a long-lived credential.
	if offline && id != nil && id.Method != MethodOIDC {
		if resp.RefreshToken, err = s.issuer.IssueRefresh(*id); err != nil {
			s.fail(w, r, http.StatusInternalServerError, errcode.ErrorCodeUnknown.WithMessage("token signing failed"), username, "error")
			return
		}
	}
	s.audit(r, "token issued", subjectOf(id), asked, granted, "")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(resp)
}

func (s *Service) checkService(service string) error {
	if service != "" && service != s.opts.Service {
		return fmt.Errorf("unknown service %q (this is %q)", service, s.opts.Service)
	}
	return nil
}

// login authenticates username/password under the lockout rules. On
// failure it has answered the request.
func (s *Service) login(w http.ResponseWriter, r *http.Request, username, password string) (Identity, bool) {
	ipKey, userKey := "ip:"+clientIP(r), "user:"+username
	if looksLikeJWT(password) {
		// Federated logins share usernames ("oidc", "gitlab-ci-token"):
		// counting them per name would let one broken pipeline lock out
		// every other. They are still counted per IP.
		userKey = ""
	}
	for _, key := range []string{ipKey, userKey} {
		if key == "" {
			continue
		}
		if locked, left := s.opts.Lockout.Locked(key); locked {
			w.Header().Set("Retry-After", strconv.Itoa(int(left.Seconds())+1))
			s.countLogin("locked", "")
			s.fail(w, r, http.StatusTooManyRequests, errcode.ErrorCodeTooManyRequests.WithMessage(
				"too many failed logins; try again later"), username, "locked_out")
			return Identity{}, false
		}
	}
	id, err := s.authenticate(r.Context(), username, password)
	if err != nil {
		result := "bad_credentials"
		if !errors.Is(err, ErrBadCredentials) {
			result = "error"
			s.opts.Logger.ErrorContext(r.Context(), "authentication error", "user", username, "error", err.Error())
		}
		s.countLogin(result, "")
		for kind, key := range map[string]string{"ip": ipKey, "user": userKey} {
			if key != "" && s.opts.Lockout.Failure(key) {
				s.countLockout(kind)
				s.opts.Logger.WarnContext(r.Context(), "login locked out", "key", key)
			}
		}
		s.fail(w, r, http.StatusUnauthorized, errcode.ErrorCodeUnauthorized.WithMessage("invalid username or password"), username, result)
		return Identity{}, false
	}
	if userKey != "" {
		s.opts.Lockout.Success(userKey)
	}
	s.opts.Lockout.Success(ipKey)
	s.countLogin("success", id.Method)
	return id, true
}

// stillValid re-checks, for a refresh, that the subject may still log in
// (a revoked robot may not). Authenticators that can tell implement
// Revocable.
func (s *Service) stillValid(r *http.Request, id *Identity) error {
	for _, a := range *s.authn.Load() {
		if rv, ok := a.(Revocable); ok {
			if err := rv.Active(r.Context(), id.Subject); err != nil && !errors.Is(err, ErrNotMine) {
				return err
			}
		}
	}
	return nil
}

// Revocable is implemented by authenticators whose subjects can be revoked.
type Revocable interface {
	// Active returns nil when subject may still act, ErrNotMine when it is
	// not one of this authenticator's subjects.
	Active(ctx context.Context, subject string) error
}

func (s *Service) fail(w http.ResponseWriter, r *http.Request, status int, e errcode.Error, user, reason string) {
	s.audit(r, "token refused", user, nil, nil, reason)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errcode.Errors{e})
}

// audit writes one JSON audit line per decision.
func (s *Service) audit(r *http.Request, msg, user string, asked, granted []ResourceActions, denied string) {
	attrs := []slog.Attr{
		slog.String("audit", "auth"),
		slog.String("user", user),
		slog.String("client_ip", clientIP(r)),
		slog.String("scope_asked", scopesString(asked)),
		slog.String("scope_granted", scopesString(granted)),
	}
	if denied != "" {
		attrs = append(attrs, slog.String("reason", denied))
	}
	s.opts.Logger.LogAttrs(r.Context(), slog.LevelInfo, msg, attrs...)
}

func (s *Service) countLogin(result, method string) {
	if s.opts.Metrics != nil {
		s.opts.Metrics.Logins.WithLabelValues(result, method).Inc()
	}
}

func (s *Service) countLockout(kind string) {
	if s.opts.Metrics != nil {
		s.opts.Metrics.Lockouts.WithLabelValues(kind).Inc()
	}
}

func scopesString(ras []ResourceActions) string {
	parts := make([]string, len(ras))
	for i, ra := range ras {
		parts[i] = ra.String()
	}
	return strings.Join(parts, " ")
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func subjectOf(id *Identity) string {
	if id == nil {
		return ""
	}
	return id.Subject
}

func identityOrAnonymous(id *Identity) Identity {
	if id == nil {
		return Identity{Subject: "anonymous", Method: "anonymous"}
	}
	return *id
}

func mergeRoles(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, r := range b {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// looksLikeJWT reports whether a password is shaped like a JWT (three
// base64url segments), as federated ID tokens are.
func looksLikeJWT(password string) bool {
	return strings.Count(password, ".") == 2 && len(password) > 40 && !strings.ContainsAny(password, " \t")
}
