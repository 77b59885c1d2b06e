package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ResourceActions is one entry of a token's access claim, as the Docker
// token specification defines it.
type ResourceActions struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// Claims are the claims of imagegate's tokens.
type Claims struct {
	jwt.RegisteredClaims
	// Access lists what the bearer may do (access tokens only).
	Access []ResourceActions `json:"access,omitempty"`
	// Use is "refresh" for refresh tokens, empty for access tokens.
	Use string `json:"use,omitempty"`
	// AuthMethod says how the subject authenticated (password, robot, oidc).
	AuthMethod string `json:"amr,omitempty"`
	// Roles are the subject's roles when the token was issued.
	Roles []string `json:"roles,omitempty"`
	// Admin marks a subject bound admin on every repository.
	Admin bool `json:"adm,omitempty"`
	// Chain names the refresh-token chain (refresh tokens only): every
	// token rotated from one login shares it.
	Chain string `json:"chn,omitempty"`
	// ChainStart is when the chain's login happened (refresh tokens
	// only): no rotation extends a chain past it plus the absolute
	// lifetime (auth.refreshmaxlifetime).
	ChainStart *jwt.NumericDate `json:"chs,omitempty"`
	// Credential fingerprints the credential the subject logged in with
	// (refresh tokens only); a changed password or secret changes it.
	Credential string `json:"crd,omitempty"`
}

const useRefresh = "refresh"

// allowedAlgorithms are the only JWT algorithms accepted: no "none", no
// HMAC (which would let a public key be used as a shared secret).
var allowedAlgorithms = []string{"ES256", "RS256", "EdDSA"}

// Issuer signs tokens.
type Issuer struct {
	key        *SigningKey
	issuer     string
	service    string
	ttl        time.Duration
	refreshTTL time.Duration
	now        func() time.Time
}

// NewIssuer returns an issuer signing with key as issuer for service
// (the audience), access tokens living ttl and refresh tokens refreshTTL.
func NewIssuer(key *SigningKey, issuer, service string, ttl, refreshTTL time.Duration) *Issuer {
	return &Issuer{key: key, issuer: issuer, service: service, ttl: ttl, refreshTTL: refreshTTL, now: time.Now}
}

// Issue signs an access token for id granting access. It returns the token
// and its issue time.
func (is *Issuer) Issue(id Identity, access []ResourceActions) (string, time.Time, error) {
	now := is.now().Truncate(time.Second)
	c := Claims{
		RegisteredClaims: is.registered(id.Subject, now, is.ttl),
		Access:           access,
		AuthMethod:       id.Method,
		Roles:            id.Roles,
		Admin:            id.Admin,
	}
	tok, err := is.sign(&c)
	return tok, now, err
}

// refreshChain is the chain a refresh token belongs to: the tokens that
// descend, by rotation, from one login.
type refreshChain struct {
	ID         string
	Start, End time.Time
}

// IssueRefresh signs a refresh token for id in chain: it lives the
// refresh TTL, but never past the chain's end, and carries id's credential
// fingerprint.
func (is *Issuer) IssueRefresh(id Identity, chain refreshChain) (string, error) {
	now := is.now().Truncate(time.Second)
	ttl := min(is.refreshTTL, chain.End.Sub(now))
	if ttl <= 0 {
		return "", fmt.Errorf("auth: refresh chain %s ended at %s", chain.ID, chain.End.Format(time.RFC3339))
	}
	c := Claims{RegisteredClaims: is.registered(id.Subject, now, ttl), Use: useRefresh, AuthMethod: id.Method,
		Chain: chain.ID, ChainStart: jwt.NewNumericDate(chain.Start), Credential: id.credential}
	return is.sign(&c)
}

func (is *Issuer) registered(subject string, now time.Time, ttl time.Duration) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{
		Issuer:    is.issuer,
		Subject:   subject,
		Audience:  jwt.ClaimStrings{is.service},
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		NotBefore: jwt.NewNumericDate(now),
		IssuedAt:  jwt.NewNumericDate(now),
		ID:        randomID(),
	}
}

func (is *Issuer) sign(c *Claims) (string, error) {
	t := jwt.NewWithClaims(is.key.Method, c)
	t.Header["kid"] = is.key.KID
	s, err := t.SignedString(is.key.Key)
	if err != nil {
		return "", fmt.Errorf("auth: signing token: %w", err)
	}
	return s, nil
}

// TTL is the lifetime of access tokens.
func (is *Issuer) TTL() time.Duration { return is.ttl }

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Verification errors; every one is answered with a challenge.
var (
	ErrTokenInvalid = errors.New("auth: invalid token")
	ErrTokenKind    = errors.New("auth: wrong kind of token")
)

// leeway tolerates clock skew between replicas and clients.
const leeway = 30 * time.Second

// Verifier checks tokens signed by any key of its key set.
type Verifier struct {
	keys    KeySet
	issuer  string
	service string
	parser  *jwt.Parser
	cache   *tokenCache
}

// NewVerifier returns a verifier for tokens issued by issuer for service.
func NewVerifier(keys KeySet, issuer, service string) *Verifier {
	return &Verifier{
		keys: keys, issuer: issuer, service: service,
		parser: jwt.NewParser(
			jwt.WithValidMethods(allowedAlgorithms),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(service),
			jwt.WithLeeway(leeway),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
		),
		cache: newTokenCache(10000),
	}
}

// Verify checks an access token and returns its claims. Verified tokens
// are cached until they expire, so a client's repeated requests cost a map
// lookup, not a signature check.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if c, ok := v.cache.get(token); ok {
		return c, nil
	}
	c, err := v.parse(token)
	if err != nil {
		return nil, err
	}
	if c.Use != "" {
		return nil, fmt.Errorf("%w: a %s token is not an access token", ErrTokenKind, c.Use)
	}
	v.cache.put(token, c)
	return c, nil
}

// VerifyRefresh checks a refresh token and returns its claims.
func (v *Verifier) VerifyRefresh(token string) (*Claims, error) {
	c, err := v.parse(token)
	if err != nil {
		return nil, err
	}
	if c.Use != useRefresh {
		return nil, fmt.Errorf("%w: not a refresh token", ErrTokenKind)
	}
	return c, nil
}

func (v *Verifier) parse(token string) (*Claims, error) {
	var c Claims
	_, err := v.parser.ParseWithClaims(token, &c, v.keyFor)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTokenInvalid, err)
	}
	if c.Subject == "" || c.NotBefore == nil {
		return nil, fmt.Errorf("%w: subject and nbf are required", ErrTokenInvalid)
	}
	return &c, nil
}

// keyFor selects the verification key named by the token's kid.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	key, ok := v.keys[kid]
	if !ok {
		return nil, fmt.Errorf("unknown key id %q", kid)
	}
	return key, nil
}
