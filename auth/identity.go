package auth

import "context"

// Identity is an authenticated subject.
type Identity struct {
	// Subject is the user or robot name ("robot$ci" for robots).
	Subject string
	// Method is how it authenticated: password, robot, oidc, token.
	Method string
	// Roles are extra roles the identity carries by itself (robots, OIDC
	// claim rules); the policy's bindings add more.
	Roles []string
	// Scopes are permissions the identity carries by itself, in addition
	// to the policy's bindings (robot accounts, OIDC claim rules).
	Scopes []Scope
	// Admin is set by the token service for subjects bound admin on "**".
	Admin bool
	// credential fingerprints the credential the identity proved (set by
	// authenticators that implement Revocable); refresh tokens carry it.
	credential string
}

// IdentityResolver rebuilds the identity of a subject from its own
// records (a robot's scopes), for decisions made after login.
type IdentityResolver interface {
	// Resolve returns subject's identity, or ErrNotMine.
	Resolve(ctx context.Context, subject string) (Identity, error)
}

// Scope is a set of actions on repositories matching a pattern.
type Scope struct {
	Repositories string
	Actions      []string
}

// Authenticator checks a username and password. It returns ErrBadCredentials
// when they do not match and ErrNotMine when the username is not one it
// knows (so that the next authenticator may try).
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string) (Identity, error)
}

// BearerAuthenticator accepts foreign bearer tokens (OIDC ID tokens from a
// trusted issuer) on imagegate's own API, where no token exchange happens.
type BearerAuthenticator interface {
	// AuthenticateBearer returns the identity a token proves, or ErrNotMine
	// when the token is not one it handles.
	AuthenticateBearer(ctx context.Context, token string) (Identity, error)
}
