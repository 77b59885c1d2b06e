package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
)

// errOIDCUnavailable marks failures to get an issuer's keys: the token may
// be fine, so they are errors rather than bad credentials.
var errOIDCUnavailable = errors.New("oidc issuer unavailable")

// maxSubjectBytes bounds an OIDC subject (it lands in logs and records).
const maxSubjectBytes = 255

// authenticate verifies token and maps it to an identity. Invalid tokens,
// and valid ones no rule admits, are ErrBadCredentials.
func (is *oidcIssuer) authenticate(ctx context.Context, token string) (Identity, error) {
	claims, err := is.verify(ctx, token)
	if err != nil {
		return Identity{}, err
	}
	return is.identity(claims)
}

// identity maps verified claims to an identity: the subject, and the
// scopes of the rules that match (none matching is ErrBadCredentials).
func (is *oidcIssuer) identity(claims jwt.MapClaims) (Identity, error) {
	subject, err := is.subject(claims)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: oidc: %w", ErrBadCredentials, err)
	}
	scopes, err := is.grant(claims)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: oidc subject %s: %w", ErrBadCredentials, subject, err)
	}
	return Identity{Subject: subject, Method: MethodOIDC, Scopes: scopes}, nil
}

// verify checks the token's signature with the issuer's key named by its
// kid (RS256, ES256 or EdDSA only), iss, aud, exp (required), nbf and iat
// (with leeway) and its total lifetime, and returns its claims.
func (is *oidcIssuer) verify(ctx context.Context, token string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := is.jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token has no kid")
		}
		k, err := is.keys.key(ctx, kid)
		if err != nil {
			if errors.Is(err, errUnknownKey) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %w", errOIDCUnavailable, err)
		}
		if t.Method.Alg() != k.alg {
			return nil, fmt.Errorf("algorithm %s does not fit key %q (%s)", t.Method.Alg(), kid, k.alg)
		}
		return k.key, nil
	})
	if errors.Is(err, errOIDCUnavailable) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: oidc: %w", ErrBadCredentials, err)
	}
	exp, _ := claims.GetExpirationTime() // required: checked by the parser
	start := is.now()
	if iat, _ := claims.GetIssuedAt(); iat != nil {
		start = iat.Time
	}
	if life := exp.Sub(start); life > is.cfg.MaxTokenLifetime {
		return nil, fmt.Errorf("%w: oidc: token valid for %s, longer than %s", ErrBadCredentials, life.Round(time.Second), is.cfg.MaxTokenLifetime)
	}
	return claims, nil
}

func newOIDCParser(is *oidcIssuer) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods(allowedAlgorithms),
		jwt.WithIssuer(is.cfg.Issuer),
		jwt.WithAudience(is.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithJSONNumber(),
		jwt.WithTimeFunc(func() time.Time { return is.now() }),
	)
}

// subject is UsernamePrefix followed by the subject claim.
func (is *oidcIssuer) subject(claims jwt.MapClaims) (string, error) {
	v, ok := claimValue(claims, is.cfg.SubjectClaim)
	var s string
	if ok {
		s, ok = scalarString(v)
	}
	if !ok || s == "" {
		return "", fmt.Errorf("claim %q (the subject) is missing or not a string", is.cfg.SubjectClaim)
	}
	s = is.cfg.UsernamePrefix + s
	if len(s) > maxSubjectBytes || strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == unicode.ReplacementChar }) {
		return "", fmt.Errorf("claim %q (the subject) is too long or holds control characters", is.cfg.SubjectClaim)
	}
	return s, nil
}

// grant applies the rules to claims: the union of the scopes of every
// matching rule. No matching rule, or a placeholder claim unfit for a
// repository name, is an error.
func (is *oidcIssuer) grant(claims jwt.MapClaims) ([]Scope, error) {
	var scopes []Scope
	matched := false
	for i, r := range is.rules {
		if !r.matches(claims) {
			continue
		}
		matched = true
		s, ok, err := r.scope(claims)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", i, err)
		}
		if ok && !containsScope(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	if !matched {
		return nil, errors.New("no rule matches the token's claims")
	}
	return scopes, nil
}

func containsScope(scopes []Scope, s Scope) bool {
	for _, x := range scopes {
		if x.Repositories == s.Repositories && strings.Join(x.Actions, ",") == strings.Join(s.Actions, ",") {
			return true
		}
	}
	return false
}
