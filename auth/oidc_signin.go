package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// OIDCSignIn verifies the ID tokens of people signing in to the web UI
// with an OIDC issuer (authorization-code flow): the same verification
// and claim rules as CI's ID tokens (OIDC), except that the audience is
// the UI's client id and the token must carry the nonce of the sign-in.
type OIDCSignIn struct {
	is *oidcIssuer
}

// Endpoints are an issuer's OAuth 2.0 endpoints, from its discovery
// document.
type Endpoints struct {
	AuthURL  string
	TokenURL string
	// EndSessionURL is the issuer's end_session_endpoint (OpenID Connect
	// RP-Initiated Logout), "" when discovery advertises none.
	EndSessionURL string
	// RevocationURL is the issuer's revocation_endpoint (RFC 7009 token
	// revocation, advertised per RFC 8414), "" when discovery advertises none.
	RevocationURL string
}

// NewOIDCSignIn returns the verifier of sign-ins with c's issuer for the
// client clientID (which replaces c.Audience).
func NewOIDCSignIn(c OIDCConfig, clientID string, logger *slog.Logger) (*OIDCSignIn, error) {
	if clientID == "" {
		return nil, fmt.Errorf("auth: oidc sign-in with %s: a client id is required", c.Issuer)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c.Audience = clientID
	is, err := newOIDCIssuer(c, logger)
	if err != nil {
		return nil, fmt.Errorf("auth: oidc sign-in with %s: %w", c.Issuer, err)
	}
	return &OIDCSignIn{is: is}, nil
}

// Issuer is the issuer's URL.
func (s *OIDCSignIn) Issuer() string { return s.is.cfg.Issuer }

// HTTPClient is the client that talks to the issuer (its CA, bounded
// redirects): use it for the code exchange too.
func (s *OIDCSignIn) HTTPClient() *http.Client { return s.is.keys.client }

// Endpoints fetches the issuer's discovery document and returns its
// endpoints, each checked like the JWKS URL (https, or http only to
// localhost; https when the issuer is); the end-session and revocation
// endpoints are optional.
func (s *OIDCSignIn) Endpoints(ctx context.Context) (Endpoints, error) {
	var doc struct {
		Issuer    string `json:"issuer"`
		AuthURL   string `json:"authorization_endpoint"`
		TokenURL  string `json:"token_endpoint"`
		EndURL    string `json:"end_session_endpoint"`
		RevokeURL string `json:"revocation_endpoint"`
	}
	iss := s.is.cfg.Issuer
	if err := s.is.keys.getJSON(ctx, strings.TrimSuffix(iss, "/")+oidcDiscoveryPath, &doc); err != nil {
		return Endpoints{}, fmt.Errorf("auth: oidc discovery of %s: %w", iss, err)
	}
	if doc.Issuer != iss {
		return Endpoints{}, fmt.Errorf("auth: oidc discovery: document names issuer %q, want %q", doc.Issuer, iss)
	}
	for name, u := range map[string]string{"authorization_endpoint": doc.AuthURL, "token_endpoint": doc.TokenURL,
		"end_session_endpoint": doc.EndURL, "revocation_endpoint": doc.RevokeURL} {
		if (name == "end_session_endpoint" || name == "revocation_endpoint") && u == "" {
			continue // optional
		}
		if err := checkFetchURL(u); err != nil {
			return Endpoints{}, fmt.Errorf("auth: oidc discovery of %s: %s: %w", iss, name, err)
		}
		if isHTTPS(iss) && !isHTTPS(u) {
			return Endpoints{}, fmt.Errorf("auth: oidc discovery of %s: %s %q is not https", iss, name, u)
		}
	}
	return Endpoints{AuthURL: doc.AuthURL, TokenURL: doc.TokenURL, EndSessionURL: doc.EndURL, RevocationURL: doc.RevokeURL}, nil
}

// errNonce: the ID token's nonce is not the sign-in's.
var errNonce = errors.New("oidc: the token's nonce is not this sign-in's")

// Person verifies idToken (signature, iss, aud = the client id, exp,
// lifetime), requires its nonce claim to equal nonce, and applies the
// issuer's rules: the person signed in, with the scopes the rules grant,
// until the token's expiry (Person.Expires), which a session must not outlive.
// Any failure is ErrBadCredentials (or an unavailable issuer's error).
func (s *OIDCSignIn) Person(ctx context.Context, idToken, nonce string) (Person, error) {
	return s.person(ctx, idToken, nonce, true)
}

// Renewed verifies an ID token the issuer answered to a refresh-token
// grant exactly as Person does, except that the nonce claim may be
// absent (OpenID Connect Core 12.2: if present it must be the sign-in's
// nonce). The rules are applied to its claims afresh, so what the person
// may do follows the issuer's current claims (a group removed, a scope
// lost). The caller must also require the subject of the session it
// renews: this only verifies the token.
func (s *OIDCSignIn) Renewed(ctx context.Context, idToken, nonce string) (Person, error) {
	return s.person(ctx, idToken, nonce, false)
}

// person verifies idToken and maps it to a person; the nonce claim must
// equal nonce, or (when !required) may be absent.
func (s *OIDCSignIn) person(ctx context.Context, idToken, nonce string, required bool) (Person, error) {
	if len(idToken) > maxIDTokenBytes {
		return Person{}, fmt.Errorf("%w: oidc: token larger than %d bytes", ErrBadCredentials, maxIDTokenBytes)
	}
	claims, err := s.is.verify(ctx, idToken)
	if err != nil {
		return Person{}, err
	}
	v, present := claims["nonce"] // present in any type: then it must be the nonce
	got, _ := v.(string)
	if (required || present) && (nonce == "" || subtle.ConstantTimeCompare([]byte(got), []byte(nonce)) != 1) {
		return Person{}, fmt.Errorf("%w: %w", ErrBadCredentials, errNonce)
	}
	id, err := s.is.identity(claims)
	if err != nil {
		return Person{}, err
	}
	p := Person{Subject: id.Subject, Method: MethodOIDC, Scopes: id.Scopes}
	if exp, _ := claims.GetExpirationTime(); exp != nil { // required: checked by verify
		p.Expires = exp.UTC()
	}
	return p, nil
}
