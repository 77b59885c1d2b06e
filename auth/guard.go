package auth

import (
	"net/http"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	distauth "github.com/distribution/distribution/v3/registry/auth"
)

// Allow authorizes a request outside /v2/ (imagegate's API, the tarball
// upload) needing access: a Bearer token like the registry's. On refusal it
// answers the request (401 with a challenge) and returns false.
func (s *Service) Allow(w http.ResponseWriter, r *http.Request, access ...ResourceActions) bool {
	var records []distauth.Access
	for _, ra := range access {
		for _, a := range ra.Actions {
			records = append(records, distauth.Access{Resource: distauth.Resource{Type: ra.Type, Name: ra.Name}, Action: a})
		}
	}
	if _, err := s.Authorized(r, records...); err != nil {
		if ch, ok := err.(challenge); ok {
			ch.SetHeaders(r, w)
		}
		_ = errcode.ServeJSON(w, errcode.ErrorCodeUnauthorized.WithDetail(scopesFor(records))) // 401
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

// AllowAdmin answers the request and returns false unless it comes from an
// admin (a token granting the catalog).
func (s *Service) AllowAdmin(w http.ResponseWriter, r *http.Request) bool {
	return s.Allow(w, r, CatalogAccess)
}
