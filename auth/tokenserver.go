package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

	if len(scopes) > MaxScopes {
		s.fail(w, r, http.StatusBadRequest, errcode.ErrorCodeUnsupported.WithMessage("too many scopes").
			WithDetail(fmt.Sprintf("the request asks for %d scopes; at most %d are allowed", len(scopes), MaxScopes)), username, "bad_request")
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

	var (
		id    *Identity
		chain *refreshChain // the chain a rotated refresh token continues
	)
	switch {
	case refresh != "":
		got, ch, err := s.redeemRefresh(r.Context(), refresh, offline)
		if err != nil {
			s.refuseRefresh(w, r, err)
			return
		}
		s.countLogin("success", MethodRefreshToken)
		s.watchRefresh(r, refresh)
		id, chain = &got, ch
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
		if chain == nil {
			c := s.newChain()
			chain = &c
		}
		if resp.RefreshToken, err = s.issuer.IssueRefresh(*id, *chain); err != nil {
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

// lockKey is one lockout counter a login attempt is checked against.
type lockKey struct {
	kind, key string // kind labels the lockouts metric
	limit     int
}

// login authenticates username/password under the lockout rules: a
// (username, client) pair locks after Lockout.MaxFailures failures, a
// client address after Lockout.MaxPerAddress. On failure it has answered
// the request.
func (s *Service) login(w http.ResponseWriter, r *http.Request, username, password string) (Identity, bool) {
	id, refused := s.checkLogin(r, username, password)
	if refused != nil {
		if refused.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(refused.RetryAfter.Seconds())+1))
		}
		s.fail(w, r, refused.status, refused.err, username, refused.reason)
		return Identity{}, false
	}
	return id, true
}

// refuseRefresh answers a refused refresh grant: 503 when the refresh
// store is full or unavailable (the client may retry later), 401
// otherwise — the client must log in again.
func (s *Service) refuseRefresh(w http.ResponseWriter, r *http.Request, err error) {
	reason := "bad_refresh_token"
	switch {
	case errors.Is(err, ErrRefreshStoreFull):
		s.countLogin("error", MethodRefreshToken)
		s.fail(w, r, http.StatusServiceUnavailable, errcode.ErrorCodeUnavailable.WithMessage(
			"too many refresh tokens in rotation; try again later"), "", "refresh_store_full")
		return
	case errors.Is(err, ErrRefreshStoreUnavailable):
		s.countLogin("error", MethodRefreshToken)
		s.opts.Logger.ErrorContext(r.Context(), "refresh store unavailable", "error", err.Error())
		s.fail(w, r, http.StatusServiceUnavailable, errcode.ErrorCodeUnavailable.WithMessage(
			"refresh tokens cannot be checked right now; try again later"), "", "refresh_store_unavailable")
		return
	case errors.Is(err, ErrRefreshReused):
		reason = "refresh_reused"
	case errors.Is(err, ErrRefreshRevoked):
		reason = "refresh_revoked"
	case errors.Is(err, errRefreshExpired):
		reason = "refresh_expired"
	case errors.Is(err, ErrTokenInvalid), errors.Is(err, ErrTokenKind), errors.Is(err, errRefreshLegacy):
	default:
		reason = "revoked"
	}
	s.countLogin("bad_credentials", MethodRefreshToken)
	s.opts.Logger.InfoContext(r.Context(), "refresh refused", "audit", "auth", "error", err.Error())
	s.fail(w, r, http.StatusUnauthorized, errcode.ErrorCodeUnauthorized.WithMessage(
		"the refresh token is no longer valid; log in again"), "", reason)
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
		slog.String("client_ip", s.clientAddr(r)),
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

// clientAddr is the client's address per the trusted proxies.
func (s *Service) clientAddr(r *http.Request) string { return ClientAddr(r, s.opts.TrustedProxies) }

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
