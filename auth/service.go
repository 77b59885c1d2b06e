package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"
)

// Options configure a Service.
type Options struct {
	// Realm is the token endpoint's absolute URL (auth.realm, or http.host
	// + /auth/token). Empty derives it from each request's Host when that
	// is a plain host[:port], else from the address the connection
	// arrived on; challenges are never cached (Cache-Control: no-store),
	// so a forged Host reaches only the client that sent it.
	Realm   string
	Service string
	Issuer  string
	// Signing signs tokens; Keys verify them (Signing's key and, during
	// rotation, previous ones).
	Signing    *SigningKey
	Keys       KeySet
	TokenTTL   time.Duration
	RefreshTTL time.Duration
	// RefreshMaxLifetime is the absolute lifetime of a refresh chain (a
	// login and every token rotated from it); 0: DefaultRefreshMaxLifetime.
	RefreshMaxLifetime time.Duration
	// RefreshStore keeps rotated refresh tokens and revoked chains; nil:
	// a MemoryRefreshStore (per process).
	RefreshStore RefreshStore
	// TrustedProxies are the peers whose X-Forwarded-For is believed when
	// telling who a client is (lockout, audit); empty: none.
	TrustedProxies []netip.Prefix
	// Authenticators are tried in order; the first that knows the
	// username decides.
	Authenticators []Authenticator
	Policy         *Policy
	Lockout        *Lockout
	Logger         *slog.Logger
	Metrics        *Metrics
}

// Service is the token service and the verifier of its tokens.
type Service struct {
	opts     Options
	issuer   *Issuer
	verifier *Verifier
	policy   atomic.Pointer[Policy]
	authn    atomic.Pointer[[]Authenticator]
	// watcher, when set, sees logins, token uses and reads (watch.go).
	watcher Watcher
}

// NewService returns a service for opts.
func NewService(opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Lockout != nil && opts.Lockout.Logger == nil {
		opts.Lockout.Logger = opts.Logger
	}
	if opts.RefreshStore == nil {
		opts.RefreshStore = NewMemoryRefreshStore(0)
	}
	s := &Service{
		opts:     opts,
		issuer:   NewIssuer(opts.Signing, opts.Issuer, opts.Service, opts.TokenTTL, opts.RefreshTTL),
		verifier: NewVerifier(opts.Keys, opts.Issuer, opts.Service),
	}
	s.policy.Store(opts.Policy)
	authn := opts.Authenticators
	s.authn.Store(&authn)
	return s
}

// Policy is the policy in force.
func (s *Service) Policy() *Policy { return s.policy.Load() }

// Reload swaps in a new policy and authenticators, for configuration
// reloads; requests in flight finish with the ones they started with.
func (s *Service) Reload(p *Policy, authn []Authenticator) {
	s.policy.Store(p)
	s.authn.Store(&authn)
}

// authenticate checks a username and password with the authenticators in
// order. Unknown users and wrong passwords are indistinguishable.
func (s *Service) authenticate(ctx context.Context, username, password string) (Identity, error) {
	for _, a := range *s.authn.Load() {
		id, err := a.Authenticate(ctx, username, password)
		if errors.Is(err, ErrNotMine) {
			continue
		}
		return id, err
	}
	return Identity{}, ErrBadCredentials
}
