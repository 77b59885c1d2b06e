package registry

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/config"
)

// newAuth builds the token service and access controller for c.
func newAuth(ctx context.Context, c config.Auth, robots *auth.Robots, reg prometheus.Registerer, logger *slog.Logger) (*auth.Service, error) {
	key, err := auth.LoadOrCreateSigningKey(c.SigningKey)
	if err != nil {
		return nil, err
	}
	keys, err := auth.LoadPublicKeys(key, c.VerificationKeys)
	if err != nil {
		return nil, err
	}
	policy, authn, err := authPolicy(ctx, c, robots, logger)
	if err != nil {
		return nil, err
	}
	return auth.NewService(auth.Options{
		Realm: c.Realm, Service: c.Service, Issuer: c.Issuer,
		Signing: key, Keys: keys,
		TokenTTL: c.TokenTTL, RefreshTTL: c.RefreshTTL,
		Authenticators: authn,
		Policy:         policy,
		Lockout:        auth.NewLockout(c.Lockout.MaxFailures, c.Lockout.Window, c.Lockout.Base, c.Lockout.Max),
		Logger:         logger,
		Metrics:        auth.NewMetrics(reg),
	}), nil
}

// authPolicy builds the reloadable part of auth: the policy and the
// identity sources.
func authPolicy(ctx context.Context, c config.Auth, robots *auth.Robots, logger *slog.Logger) (*auth.Policy, []auth.Authenticator, error) {
	pc := auth.PolicyConfig{Roles: c.Roles, PersonalNamespace: c.PersonalNamespace, AnonymousPull: c.AnonymousPull}
	for _, b := range c.Bindings {
		pc.Bindings = append(pc.Bindings, auth.Binding{Subjects: b.Subjects, Role: b.Role, Repositories: b.Repositories})
	}
	policy, err := auth.NewPolicy(pc)
	if err != nil {
		return nil, nil, err
	}
	authn := []auth.Authenticator{robots} // robot$… names only
	if len(c.OIDC) > 0 {                  // first: it claims only ID tokens of its issuers
		oidc, err := auth.NewOIDC(ctx, oidcConfigs(c), logger)
		if err != nil {
			return nil, nil, fmt.Errorf("registry: auth.oidc: %w", err)
		}
		authn = append(authn, oidc)
	}
	if c.Htpasswd != "" {
		users, err := auth.LoadHtpasswd(c.Htpasswd)
		if err != nil {
			return nil, nil, fmt.Errorf("registry: auth.htpasswd: %w", err)
		}
		authn = append(authn, users)
	}
	return policy, authn, nil
}

// oidcConfigs translates the configured issuers for auth.NewOIDC.
func oidcConfigs(c config.Auth) []auth.OIDCConfig {
	out := make([]auth.OIDCConfig, 0, len(c.OIDC))
	for _, o := range c.OIDC {
		oc := auth.OIDCConfig{Issuer: o.Issuer, Audience: o.Audience, JWKSURL: o.JWKSURL, CAFile: o.CAFile,
			SubjectClaim: o.SubjectClaim, UsernamePrefix: o.UsernamePrefix, Roles: c.Roles,
			CacheTTL: o.CacheTTL, RefreshInterval: o.RefreshInterval, MaxTokenLifetime: o.MaxTokenLifetime}
		for _, r := range o.Rules {
			rule := auth.OIDCRule{Claim: r.Claim, Equals: r.Equals, Pattern: r.Pattern,
				Role: r.Role, Actions: r.Actions, Repositories: r.Repositories}
			for _, a := range r.And {
				rule.And = append(rule.And, auth.OIDCCondition{Claim: a.Claim, Equals: a.Equals, Pattern: a.Pattern})
			}
			oc.Rules = append(oc.Rules, rule)
		}
		out = append(out, oc)
	}
	return out
}
