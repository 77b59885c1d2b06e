package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// OIDCConfig trusts one issuer of OIDC ID tokens: GitLab CI (id_tokens),
// GitHub Actions, Kubernetes service accounts. Its tokens are accepted as
// the password of `docker login` and as Bearer tokens on imagegate's API.
type OIDCConfig struct {
	// Issuer is the issuer URL; it must equal the tokens' iss exactly.
	Issuer string
	// Audience is required: tokens must list it in aud. Make it this
	// registry's own name (its URL) so that tokens minted for other
	// services are refused.
	Audience string
	// JWKSURL is where the issuer's signing keys are; empty: discovered
	// from {Issuer}/.well-known/openid-configuration (jwks_uri).
	JWKSURL string
	// CAFile is a PEM bundle trusted (instead of the system roots) for the
	// issuer's TLS certificate, e.g. a Kubernetes cluster CA. Not with
	// HTTPClient.
	CAFile string
	// SubjectClaim names the claim that becomes the identity's subject;
	// default "sub".
	SubjectClaim string
	// UsernamePrefix is put before the subject claim to make the subject
	// ("gitlab:" + "group/app"). Required and ending in ":", which no
	// htpasswd user name can contain, so that a token never passes for a
	// local user; unique among issuers.
	UsernamePrefix string
	// Rules admit tokens and map their claims to access. A token is
	// accepted only when at least one rule matches it.
	Rules []OIDCRule
	// Roles resolves OIDCRule.Role: BuiltinRoles overlaid by these (pass
	// the policy's roles).
	Roles map[string][]string
	// CacheTTL is how long fetched keys are used before being fetched
	// again; default 1h.
	CacheTTL time.Duration
	// RefreshInterval is the least time between two fetches of the keys,
	// however many tokens name unknown key ids; default 30s.
	RefreshInterval time.Duration
	// MaxTokenLifetime refuses tokens valid for longer (exp - iat);
	// default 24h.
	MaxTokenLifetime time.Duration
	// HTTPClient fetches discovery documents and keys; default a client
	// with a 10s timeout (proxy from the environment).
	HTTPClient *http.Client
	// Now is the clock tokens' exp, nbf and iat are checked against; nil:
	// time.Now (tests set it).
	Now func() time.Time
}

// Defaults for OIDCConfig.
const (
	DefaultOIDCCacheTTL         = time.Hour
	DefaultOIDCRefreshInterval  = 30 * time.Second
	DefaultOIDCMaxTokenLifetime = 24 * time.Hour
	// MethodOIDC is Identity.Method for identities proven by ID tokens.
	MethodOIDC = "oidc"
)

// maxIDTokenBytes bounds an ID token; real ones are 1–3 KiB.
const maxIDTokenBytes = 16 << 10

// OIDC authenticates ID tokens from its configured issuers. It implements
// Authenticator (the token is the password; the username is ignored) and
// BearerAuthenticator. Tokens that are not JWTs, or whose iss is none of
// its issuers, are ErrNotMine, so that other authenticators may try.
type OIDC struct {
	issuers map[string]*oidcIssuer
	logger  *slog.Logger
}

// NewOIDC checks configs and returns an authenticator for them. It fetches
// every issuer's keys once, in parallel and bounded by ctx, to report
// misconfiguration early; an issuer that cannot be reached is logged, not
// an error, and its keys are fetched again when a token needs them.
func NewOIDC(ctx context.Context, configs []OIDCConfig, logger *slog.Logger) (*OIDC, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := &OIDC{issuers: map[string]*oidcIssuer{}, logger: logger}
	prefixes := map[string]bool{}
	for i, c := range configs {
		is, err := newOIDCIssuer(c, logger)
		if err != nil {
			return nil, fmt.Errorf("auth: oidc issuer %d (%s): %w", i, c.Issuer, err)
		}
		if o.issuers[is.cfg.Issuer] != nil {
			return nil, fmt.Errorf("auth: oidc issuer %d: %s is configured twice", i, c.Issuer)
		}
		if prefixes[is.cfg.UsernamePrefix] {
			return nil, fmt.Errorf("auth: oidc issuer %d (%s): usernameprefix %q is used by another issuer", i, c.Issuer, c.UsernamePrefix)
		}
		prefixes[is.cfg.UsernamePrefix] = true
		o.issuers[is.cfg.Issuer] = is
	}
	var wg sync.WaitGroup
	for _, is := range o.issuers {
		wg.Go(func() {
			if err := is.keys.refresh(ctx); err != nil {
				logger.WarnContext(ctx, "oidc issuer keys unavailable", "issuer", is.cfg.Issuer, "error", err.Error())
			}
		})
	}
	wg.Wait()
	return o, nil
}

// Authenticate implements Authenticator: password is an ID token, the
// username is not checked (CI systems send "oidc", "gitlab-ci-token"…).
func (o *OIDC) Authenticate(ctx context.Context, _, password string) (Identity, error) {
	return o.authenticate(ctx, password)
}

// AuthenticateBearer implements BearerAuthenticator.
func (o *OIDC) AuthenticateBearer(ctx context.Context, token string) (Identity, error) {
	return o.authenticate(ctx, token)
}

func (o *OIDC) authenticate(ctx context.Context, token string) (Identity, error) {
	is := o.issuerOf(token)
	if is == nil {
		return Identity{}, ErrNotMine
	}
	id, err := is.authenticate(ctx, token)
	if err != nil {
		o.logger.InfoContext(ctx, "oidc token refused", "issuer", is.cfg.Issuer, "error", err.Error())
		return Identity{}, err
	}
	return id, nil
}

// errOIDCNoRefresh refuses refresh tokens of OIDC subjects.
var errOIDCNoRefresh = errors.New("auth: oidc identities cannot refresh; log in again with a fresh ID token")

// Credential implements Revocable: an OIDC subject never refreshes. An ID
// token proves a CI job for minutes; a refresh token would stretch that to
// the refresh TTL, and would carry none of the scopes its claims earned.
// Subjects without one of this authenticator's prefixes are ErrNotMine.
func (o *OIDC) Credential(_ context.Context, subject string) (string, error) {
	for _, is := range o.issuers {
		if strings.HasPrefix(subject, is.cfg.UsernamePrefix) {
			return "", errOIDCNoRefresh
		}
	}
	return "", ErrNotMine
}

// issuerOf returns the configured issuer a token claims to come from,
// reading its iss without verifying anything, or nil.
func (o *OIDC) issuerOf(token string) *oidcIssuer {
	if len(o.issuers) == 0 || len(token) > maxIDTokenBytes {
		return nil
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var claims map[string]any // exact key lookup: encoding/json matches struct fields case-insensitively
	if json.Unmarshal(payload, &claims) != nil {
		return nil
	}
	iss, _ := claims["iss"].(string)
	return o.issuers[iss]
}

// oidcIssuer verifies the tokens of one issuer.
type oidcIssuer struct {
	cfg   OIDCConfig
	keys  *jwksCache
	rules []oidcRule
	jwt   *jwt.Parser
	now   func() time.Time
}

func newOIDCIssuer(c OIDCConfig, logger *slog.Logger) (*oidcIssuer, error) {
	if err := checkFetchURL(c.Issuer); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	if c.JWKSURL != "" {
		if err := checkFetchURL(c.JWKSURL); err != nil {
			return nil, fmt.Errorf("jwksurl: %w", err)
		}
	}
	if c.Audience == "" {
		return nil, errors.New("audience is required")
	}
	if c.SubjectClaim == "" {
		c.SubjectClaim = "sub"
	}
	if !strings.HasSuffix(c.UsernamePrefix, ":") || strings.ContainsAny(c.UsernamePrefix, "/*{} ") {
		return nil, fmt.Errorf("usernameprefix %q must be set, end with \":\" and contain no \"/\", \"*\", braces or spaces (e.g. \"gitlab:\")", c.UsernamePrefix)
	}
	if len(c.Rules) == 0 {
		return nil, errors.New("needs at least one rule: tokens matching no rule are refused")
	}
	for name, d := range map[string]*time.Duration{
		"cachettl": &c.CacheTTL, "refreshinterval": &c.RefreshInterval, "maxtokenlifetime": &c.MaxTokenLifetime,
	} {
		if *d < 0 {
			return nil, fmt.Errorf("%s must not be negative", name)
		}
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = DefaultOIDCCacheTTL
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = DefaultOIDCRefreshInterval
	}
	if c.MaxTokenLifetime == 0 {
		c.MaxTokenLifetime = DefaultOIDCMaxTokenLifetime
	}
	client, err := oidcHTTPClient(c.HTTPClient, c.CAFile)
	if err != nil {
		return nil, err
	}
	roles := map[string][]string{}
	for r, a := range BuiltinRoles {
		roles[r] = a
	}
	for r, a := range c.Roles {
		roles[r] = a
	}
	is := &oidcIssuer{cfg: c, now: time.Now}
	if c.Now != nil {
		is.now = c.Now
	}
	is.jwt = newOIDCParser(is)
	for i, r := range c.Rules {
		cr, err := compileOIDCRule(r, roles)
		if err != nil {
			return nil, fmt.Errorf("rule %d: %w", i, err)
		}
		is.rules = append(is.rules, cr)
	}
	is.keys = newJWKSCache(c.Issuer, c.JWKSURL, client, c.CacheTTL, c.RefreshInterval, logger)
	return is, nil
}

var (
	_ Authenticator       = (*OIDC)(nil)
	_ BearerAuthenticator = (*OIDC)(nil)
	_ Revocable           = (*OIDC)(nil)
)
