package auth

import (
	"net/http"
	"slices"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	distauth "github.com/distribution/distribution/v3/registry/auth"

	"github.com/imagegate/imagegate/internal/reqctx"
)

// Allow authorizes a request needing access (the /v2/ manifest PUT door,
// imagegate's API, the tarball upload): a Bearer token like the
// registry's. On refusal it answers the request — 403 DENIED naming the
// identity, the action and the repository when the policy does not grant
// it, else 401 with a challenge — and returns false.
func (s *Service) Allow(w http.ResponseWriter, r *http.Request, access ...ResourceActions) bool {
	var records []distauth.Access
	for _, ra := range access {
		for _, a := range ra.Actions {
			records = append(records, distauth.Access{Resource: distauth.Resource{Type: ra.Type, Name: ra.Name}, Action: a})
		}
	}
	if s.allowForeignBearer(r, access) {
		return true
	}
	if _, err := s.Authorized(r, records...); err != nil {
		ch, ok := err.(challenge)
		if !ok {
			ch = s.challenge(r, records, "")
		}
		if ch.denied != "" { // no token would do: 403, see ExplainDenials
			_ = errcode.ServeJSON(w, errDenied(ch.denied, records))
			return false
		}
		ch.SetHeaders(r, w)
		_ = errcode.ServeJSON(w, errUnauthorized(ch)) // 401
		return false
	}
	return true
}

// CatalogAccess is the access an admin-only API request needs.
var CatalogAccess = ResourceActions{Type: registryResource, Name: catalogResource, Actions: []string{"*"}}

// AllowPull answers the request and returns false unless it may pull repo.
func (s *Service) AllowPull(w http.ResponseWriter, r *http.Request, repo string) bool {
	return s.Allow(w, r, ResourceActions{Type: "repository", Name: repo, Actions: []string{ActionPull}})
}

// AllowPush answers the request and returns false unless it may push to repo.
func (s *Service) AllowPush(w http.ResponseWriter, r *http.Request, repo string) bool {
	return s.Allow(w, r, ResourceActions{Type: "repository", Name: repo, Actions: []string{ActionPush}})
}

// AllowAdmin answers the request and returns false unless it comes from an
// admin: 401 with a challenge without a valid token, 403 DENIED with one.
func (s *Service) AllowAdmin(w http.ResponseWriter, r *http.Request) bool {
	if !s.Allow(w, r, CatalogAccess) {
		return false
	}
	if c := s.bearerClaims(r); c != nil && c.Admin {
		return true
	}
	_ = errcode.ServeJSON(w, errcode.ErrorCodeDenied.WithMessage("administrators only"))
	return false
}

// bearerClaims are the claims of the request's own (imagegate) token, nil
// without a valid one.
func (s *Service) bearerClaims(r *http.Request) *Claims {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), bearerPrefix)
	if !ok {
		return nil
	}
	c, err := s.verifier.Verify(tok)
	if err != nil {
		return nil
	}
	return c
}

// CatalogFilter returns which repositories the request's caller may see
// in the catalog: those it may pull. Admins see everything.
func (s *Service) CatalogFilter(r *http.Request) func(repo string) bool {
	c := s.bearerClaims(r)
	if c != nil && c.Admin {
		return func(string) bool { return true }
	}
	id := s.identityOf(r.Context(), c)
	policy := s.Policy()
	return func(repo string) bool { return slices.Contains(policy.Allowed(id, repo), ActionPull) }
}

// allowForeignBearer accepts a bearer token that is not imagegate's but one
// an authenticator vouches for (an OIDC ID token), when the policy allows
// its identity every access asked for.
func (s *Service) allowForeignBearer(r *http.Request, access []ResourceActions) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), bearerPrefix)
	if !ok || tok == "" {
		return false
	}
	if _, err := s.verifier.Verify(tok); err == nil {
		return false // ours: Authorized decides
	}
	for _, a := range *s.authn.Load() {
		ba, ok := a.(BearerAuthenticator)
		if !ok {
			continue
		}
		id, err := ba.AuthenticateBearer(r.Context(), tok)
		if err != nil {
			continue
		}
		id.Roles = mergeRoles(id.Roles, s.Policy().Roles(&id))
		granted := s.Policy().Grant(&id, access)
		if !covers(granted, access) {
			return false
		}
		if info := reqctx.From(r.Context()); info != nil {
			info.SetIdentity(reqctx.Identity{Subject: id.Subject, Method: id.Method, Roles: id.Roles})
		}
		return true
	}
	return false
}

// covers reports whether granted includes every action of asked.
func covers(granted, asked []ResourceActions) bool {
	c := Claims{Access: granted}
	for _, ra := range asked {
		for _, a := range ra.Actions {
			if !c.allows(ra.Type, ra.Name, a) {
				return false
			}
		}
	}
	return true
}
