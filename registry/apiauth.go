package registry

import (
	"net/http"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/api"
	"github.com/imagegate/imagegate/auth"
)

// apiAuth makes the token service the API's Authenticator: the API's
// callers are established like the upload endpoints' (Basic under the
// lockout, imagegate tokens, OIDC ID tokens) and judged by one scope
// model (auth.APIScope, docs/api.md).
type apiAuth struct{ s *auth.Service }

// Authenticate implements api.Authenticator.
func (a apiAuth) Authenticate(w http.ResponseWriter, r *http.Request) (api.Caller, bool) {
	c, ok := a.s.APICaller(w, r)
	if !ok {
		return nil, false
	}
	return c, true
}

// Challenge implements api.Authenticator.
func (a apiAuth) Challenge(w http.ResponseWriter, r *http.Request, errCode string, e errcode.Error) {
	a.s.APIChallenge(w, r, errCode, e)
}
