package registry

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
)

// newAuth builds the token service and access controller for c; httpHost
// is http.host, the registry's external URL, which names the token realm
// when auth.realm does not. shared is the store replicas share, nil for a
// single node.
func newAuth(ctx context.Context, c config.Auth, httpHost string, robots *auth.Robots, shared fleet.Store, reg prometheus.Registerer, logger *slog.Logger) (*auth.Service, error) {
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
	proxies, err := config.ParsePrefixes(c.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("registry: auth.trustedproxies: %w", err)
	}
	lockout := auth.NewLockout(c.Lockout.MaxFailures, c.Lockout.Window, c.Lockout.Base, c.Lockout.Max)
	lockout.MaxPerAddress, lockout.MaxEntries = c.Lockout.MaxPerAddress, c.Lockout.MaxEntries
	lockout.Logger = logger
	// Replicas count failed logins and remember rotated refresh tokens in
	// the store they share. A single node keeps both in stores of their
	// own, bounded apart (auth.lockout.maxentries; the refresh store's room
	// for revocations), so that a flood of failed logins — anyone can
	// cause one — cannot fill the store tag locks and uploads need.
	var refresh auth.RefreshStore = auth.NewMemoryRefreshStore(0)
	if shared != nil {
		lockout.Store, refresh = shared, auth.NewFleetRefreshStore(shared)
	}
	realm := tokenRealm(c.Realm, httpHost)
	if realm == "" {
		logger.Warn("auth.realm and http.host are unset: token challenges name the Host each request came with; set http.host in production")
	}
	return auth.NewService(auth.Options{
		Realm: realm, Service: c.Service, Issuer: c.Issuer,
		Signing: key, Keys: keys,
		TokenTTL: c.TokenTTL, RefreshTTL: c.RefreshTTL, RefreshMaxLifetime: c.RefreshMaxLifetime,
		RefreshStore:   refresh,
		TrustedProxies: proxies,
		Authenticators: authn,
		Policy:         policy,
		Lockout:        lockout,
		Logger:         logger,
		Metrics:        auth.NewMetrics(reg),
	}), nil
}

// tokenRealm is the token endpoint named in challenges: auth.realm, else
// http.host's /auth/token, else "" (each request's Host, see auth.Options).
func tokenRealm(realm, httpHost string) string {
	switch {
	case realm != "":
		return realm
	case httpHost != "":
		return strings.TrimRight(httpHost, "/") + auth.TokenPath
	}
	return ""
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
