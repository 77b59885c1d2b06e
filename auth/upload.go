package auth

import (
	"net/http"
	"slices"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	distauth "github.com/distribution/distribution/v3/registry/auth"

	"github.com/imagegate/imagegate/internal/reqctx"
)

// Uploader is the authenticated caller of a tarball upload, whose target
// repositories are often known only once the archive has been read.
type Uploader struct {
	subject string
	// claims, for an imagegate token: its grants decide.
	claims *Claims
	// id, for Basic credentials or a foreign bearer token: the policy decides.
	id     *Identity
	policy *Policy
}

// Subject names the caller.
func (u *Uploader) Subject() string { return u.subject }

// MayPush reports whether the caller may push to repo.
func (u *Uploader) MayPush(repo string) bool {
	if u.claims != nil {
		return u.claims.allows("repository", repo, ActionPush)
	}
	return slices.Contains(u.policy.Allowed(u.id, repo), ActionPush)
}

// MayPushSomewhere reports whether the caller may push to at least one
// repository: the upload endpoints refuse everyone else before reading
// the body, whose targets they often learn only from inside the archive.
// It may say yes for a caller whose only grant is on repositories the
// archive does not name: every target is still checked with MayPush.
func (u *Uploader) MayPushSomewhere() bool {
	if u.claims != nil {
		for _, ra := range u.claims.Access {
			if ra.Type == "repository" && (slices.Contains(ra.Actions, ActionPush) || slices.Contains(ra.Actions, "*")) {
				return true
			}
		}
		return false
	}
	return u.policy.pushesSomewhere(u.id)
}

// pushesSomewhere reports whether some repository grants id push: its
// personal namespace (asked of Allowed, which owns that rule), a binding
// whose role pushes, or a scope of its own that pushes.
func (p *Policy) pushesSomewhere(id *Identity) bool {
	if slices.Contains(p.Allowed(id, id.Subject+"/"+personalProbe), ActionPush) {
		return true
	}
	for _, b := range p.bindings {
		if bindsSubject(b, id) && slices.Contains(p.roles[b.Role], ActionPush) {
			return true
		}
	}
	for _, s := range id.Scopes {
		if slices.Contains(s.Actions, ActionPush) || slices.Contains(s.Actions, "*") {
			return true
		}
	}
	return false
}

// personalProbe names a repository of a personal namespace, to ask the
// policy whether the namespace is the caller's.
const personalProbe = "imagegate-upload-probe"

// isAnonymous reports whether c is the token the token endpoint hands out
// without credentials: it proves no identity, so it cannot upload.
func isAnonymous(c *Claims) bool {
	return c.AuthMethod == "anonymous"
}

// Uploader authenticates the caller of an upload endpoint: a person the
// web UI forwarded (WithPerson), Basic
// credentials (under the lockout rules, like the token endpoint), an
// imagegate Bearer token, or a Bearer token an authenticator vouches for
// (OIDC). Anonymous tokens are no credentials. Without valid credentials
// it answers 401 with a challenge for push on repository (when known) and
// returns false.
func (s *Service) Uploader(w http.ResponseWriter, r *http.Request, repository string) (*Uploader, bool) {
	var access []distauth.Access
	if repository != "" {
		access = []distauth.Access{{Resource: distauth.Resource{Type: "repository", Name: repository}, Action: ActionPush}}
	}
	if u, ok, err := s.personUploader(r); ok {
		if err != nil {
			_ = errcode.ServeJSON(w, errcode.ErrorCodeUnauthorized.WithMessage(err.Error()))
			return nil, false
		}
		return u, true
	}
	if user, pass, ok := r.BasicAuth(); ok {
		id, ok := s.login(w, r, user, pass)
		if !ok {
			return nil, false
		}
		return s.uploader(r, id), true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), bearerPrefix)
	if ok && tok != "" {
		if c, err := s.verifier.Verify(tok); err == nil && !isAnonymous(c) {
			if info := reqctx.From(r.Context()); info != nil {
				info.SetIdentity(reqctx.Identity{Subject: c.Subject, Method: c.AuthMethod, Roles: c.Roles, Admin: c.Admin})
			}
			return &Uploader{subject: c.Subject, claims: c}, true
		}
		for _, a := range *s.authn.Load() {
			if ba, ok := a.(BearerAuthenticator); ok {
				if id, err := ba.AuthenticateBearer(r.Context(), tok); err == nil {
					return s.uploader(r, id), true
				}
			}
		}
	}
	ch := s.challenge(r, access, "")
	if ok {
		ch.err = errInvalidToken
	}
	ch.SetHeaders(r, w)
	_ = errcode.ServeJSON(w, errUnauthorized(ch))
	return nil, false
}

// uploader is the Uploader of an identity the policy judges.
func (s *Service) uploader(r *http.Request, id Identity) *Uploader {
	p := s.Policy()
	id.Roles = mergeRoles(id.Roles, p.Roles(&id))
	if info := reqctx.From(r.Context()); info != nil {
		info.SetIdentity(reqctx.Identity{Subject: id.Subject, Method: id.Method, Roles: id.Roles, Admin: p.IsAdmin(&id)})
	}
	return &Uploader{subject: id.Subject, id: &id, policy: p}
}
