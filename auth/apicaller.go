package auth

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	distauth "github.com/distribution/distribution/v3/registry/auth"

	"github.com/imagegate/imagegate/internal/reqctx"
)

// APIScope is the one token scope of imagegate's API (/api/v1): a token
// that carries it is judged by the policy on every request, per
// repository (pull to read, push to rescan) and across repositories
// (admin). It is the scope the catalog needs too — both are an index over
// every repository, filtered by what the caller may see — so any logged-in
// identity gets it from the token endpoint.
var APIScope = CatalogAccess

// APICaller is the authenticated caller of an API request and what it may
// do there. It is built once per request (APICaller), so a Basic login is
// checked — and counted by the lockout — once.
type APICaller struct {
	// id is the identity the policy judges; nil for anonymous.
	id *Identity
	// claims are the imagegate token presented, if any: its own grants
	// allow what they name even without the API scope.
	claims *Claims
	// judged: the policy decides (Basic credentials, an ID token, a token
	// with APIScope, or no credentials at all — anonymous).
	judged bool
	policy *Policy
}

// Subject names the caller, "" when anonymous.
func (c *APICaller) Subject() string {
	if c.id == nil {
		return ""
	}
	return c.id.Subject
}

// May reports whether the caller may take action (pull, push, delete) on
// repository repo: the token grants it, or the policy allows it the
// caller's identity.
func (c *APICaller) May(repo, action string) bool {
	if c.claims != nil && c.claims.allows("repository", repo, action) {
		return true
	}
	return c.judged && slices.Contains(c.policy.Allowed(c.id, repo), action)
}

// Admin reports whether the policy in force binds the caller admin on
// every repository (a token alone, without APIScope, never makes one).
func (c *APICaller) Admin() bool {
	return c.judged && c.policy.IsAdmin(c.id)
}

// Complete reports whether the policy judged an identity: false for a
// request without credentials, with an anonymous token, or with a token
// lacking APIScope. Refusing an incomplete caller is a 401 challenge
// (other credentials may be allowed), a complete one a 403.
func (c *APICaller) Complete() bool { return c.judged && c.id != nil }

// APICaller authenticates the caller of an API request from, in order:
// Basic credentials (checked like the token endpoint's and the upload
// endpoints': the same authenticators, the same lockout, 429 when
// locked); an imagegate access token (a robot's only while the robot is
// active); a Bearer token an authenticator vouches for (an OIDC ID
// token); nothing (anonymous: what auth.anonymouspull allows). Invalid
// credentials are answered (401 with a challenge for APIScope) and it
// returns false.
func (s *Service) APICaller(w http.ResponseWriter, r *http.Request) (*APICaller, bool) {
	policy := s.Policy()
	if user, pass, ok := r.BasicAuth(); ok {
		id, ok := s.login(w, r, user, pass)
		if !ok {
			return nil, false
		}
		return s.judgedCaller(r, id, policy), true
	}
	tok, bearer := strings.CutPrefix(r.Header.Get("Authorization"), bearerPrefix)
	if !bearer {
		if r.Header.Get("Authorization") != "" {
			s.APIChallenge(w, r, errInvalidToken, errcode.ErrorCodeUnauthorized.WithMessage(
				"unsupported Authorization scheme: use Basic credentials or a Bearer token"))
			return nil, false
		}
		return &APICaller{judged: true, policy: policy}, true
	}
	if c, err := s.verifier.Verify(tok); err == nil {
		return s.tokenCaller(w, r, c, policy)
	}
	for _, a := range *s.authn.Load() {
		if ba, ok := a.(BearerAuthenticator); ok {
			if id, err := ba.AuthenticateBearer(r.Context(), tok); err == nil {
				return s.judgedCaller(r, id, policy), true
			}
		}
	}
	s.decision(r, "challenged", "", nil, "invalid bearer token on the API")
	s.APIChallenge(w, r, errInvalidToken, errcode.ErrorCodeUnauthorized.WithMessage(
		"the bearer token is not valid (expired, or not issued by this registry)"))
	return nil, false
}

// tokenCaller is the caller of an imagegate access token: the policy
// judges its subject when the token carries APIScope; otherwise only the
// token's own grants count. A robot's token is refused once the robot is
// revoked or expired.
func (s *Service) tokenCaller(w http.ResponseWriter, r *http.Request, c *Claims, policy *Policy) (*APICaller, bool) {
	caller := &APICaller{claims: c, policy: policy,
		judged: c.allows(APIScope.Type, APIScope.Name, "*")}
	if c.AuthMethod == "anonymous" {
		return caller, true
	}
	id := &Identity{Subject: c.Subject, Method: c.AuthMethod, Roles: c.Roles}
	for _, a := range *s.authn.Load() {
		res, ok := a.(IdentityResolver)
		if !ok {
			continue
		}
		got, err := res.Resolve(r.Context(), c.Subject)
		if errors.Is(err, ErrNotMine) {
			continue
		}
		if err != nil {
			s.decision(r, "challenged", c.Subject, nil, err.Error())
			s.APIChallenge(w, r, errInvalidToken, errcode.ErrorCodeUnauthorized.WithMessage(
				"the token's subject is no longer active"))
			return nil, false
		}
		got.Roles = mergeRoles(got.Roles, c.Roles)
		id = &got
		break
	}
	caller.id = id
	setIdentity(r, id)
	return caller, true
}

// judgedCaller is the caller of an identity proven by credentials sent
// with the request itself.
func (s *Service) judgedCaller(r *http.Request, id Identity, policy *Policy) *APICaller {
	id.Roles = mergeRoles(id.Roles, policy.Roles(&id))
	setIdentity(r, &id)
	return &APICaller{id: &id, judged: true, policy: policy}
}

// APIChallenge answers 401 with e and a Bearer challenge for APIScope;
// errCode is the challenge's error ("", invalid_token, insufficient_scope).
func (s *Service) APIChallenge(w http.ResponseWriter, r *http.Request, errCode string, e errcode.Error) {
	access := []distauth.Access{{Resource: distauth.Resource{Type: APIScope.Type, Name: APIScope.Name}, Action: "*"}}
	s.challenge(r, access, errCode).SetHeaders(r, w)
	_ = errcode.ServeJSON(w, e)
}

// setIdentity names the caller in the request's context (access log).
func setIdentity(r *http.Request, id *Identity) {
	if info := reqctx.From(r.Context()); info != nil {
		info.SetIdentity(reqctx.Identity{Subject: id.Subject, Method: id.Method, Roles: id.Roles})
	}
}
