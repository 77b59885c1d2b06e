package registry

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/config"
)

// newAuth builds the token service and access controller for c.
func newAuth(c config.Auth, reg prometheus.Registerer, logger *slog.Logger) (*auth.Service, error) {
	key, err := auth.LoadOrCreateSigningKey(c.SigningKey)
	if err != nil {
		return nil, err
	}
	keys, err := auth.LoadPublicKeys(key, c.VerificationKeys)
	if err != nil {
		return nil, err
	}
	policy, authn, err := authPolicy(c)
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
func authPolicy(c config.Auth) (*auth.Policy, []auth.Authenticator, error) {
	pc := auth.PolicyConfig{Roles: c.Roles, PersonalNamespace: c.PersonalNamespace, AnonymousPull: c.AnonymousPull}
	for _, b := range c.Bindings {
		pc.Bindings = append(pc.Bindings, auth.Binding{Subjects: b.Subjects, Role: b.Role, Repositories: b.Repositories})
	}
	policy, err := auth.NewPolicy(pc)
	if err != nil {
		return nil, nil, err
	}
	users, err := auth.LoadHtpasswd(c.Htpasswd)
	if err != nil {
		return nil, nil, fmt.Errorf("registry: auth.htpasswd: %w", err)
	}
	return policy, []auth.Authenticator{users}, nil
}
