package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// DefaultRefreshMaxLifetime bounds a refresh chain when Options leave
// RefreshMaxLifetime zero.
const DefaultRefreshMaxLifetime = 90 * 24 * time.Hour

// Revocable is implemented by authenticators whose subjects may hold
// refresh tokens. Every refresh grant asks them again, so that a removed
// user, a changed password, a revoked or expired robot ends its refresh
// tokens at once.
type Revocable interface {
	// Credential returns a fingerprint of subject's current credential
	// (it changes when the password or secret does), ErrNotMine when
	// subject is not one of this authenticator's, and another error when
	// subject may no longer act (removed, revoked, expired, or a kind of
	// identity that never refreshes).
	Credential(ctx context.Context, subject string) (string, error)
}

// Reasons a refresh grant is refused (wrapped by redeemRefresh).
var (
	errRefreshLegacy  = errors.New("auth: refresh token predates chains and credential binding; log in again")
	errRefreshExpired = errors.New("auth: refresh chain reached its absolute lifetime; log in again")
	errRefreshOrphan  = errors.New("auth: no identity source vouches for the refresh token's subject")
	errRefreshChanged = errors.New("auth: the credential behind the refresh token changed")
)

// fingerprint is a credential's fingerprint: a truncated SHA-256 over
// what identifies it (for htpasswd the stored bcrypt hash, for robots
// the stored secret hash), so that a token reveals nothing of it.
func fingerprint(kind, subject, secret string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + subject + "\x00" + secret))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// redeemRefresh checks a refresh token for the refresh grant and returns
// the identity it stands for, rebuilt from its source (a robot's current
// scopes). With rotate (access_type=offline) the token is marked used and
// the chain its successor joins is returned; presenting a used token
// again revokes its whole chain.
func (s *Service) redeemRefresh(ctx context.Context, token string, rotate bool) (Identity, *refreshChain, error) {
	c, err := s.verifier.VerifyRefresh(token)
	if err != nil {
		return Identity{}, nil, err
	}
	if c.Chain == "" || c.ChainStart == nil || c.Credential == "" || c.ID == "" {
		return Identity{}, nil, errRefreshLegacy
	}
	chain := refreshChain{ID: c.Chain, Start: c.ChainStart.Time, End: c.ChainStart.Add(s.refreshMaxLifetime())}
	if !s.issuer.now().Before(chain.End) {
		return Identity{}, nil, errRefreshExpired
	}
	if err := s.opts.RefreshStore.Check(ctx, c.Chain, c.ID); err != nil {
		return Identity{}, nil, s.onReuse(ctx, err, chain)
	}
	id, err := s.vouch(ctx, c)
	if err != nil {
		return Identity{}, nil, err
	}
	if !rotate {
		return id, nil, nil
	}
	if err := s.opts.RefreshStore.Rotate(ctx, c.Chain, c.ID, c.ExpiresAt.Add(leeway)); err != nil {
		return Identity{}, nil, s.onReuse(ctx, err, chain)
	}
	return id, &chain, nil
}

// onReuse revokes chain when err says one of its tokens was reused, and
// returns err.
func (s *Service) onReuse(ctx context.Context, err error, chain refreshChain) error {
	if errors.Is(err, ErrRefreshReused) {
		if rerr := s.opts.RefreshStore.Revoke(ctx, chain.ID, chain.End); rerr != nil {
			return fmt.Errorf("%w (and revoking chain %s failed: %w)", err, chain.ID, rerr)
		}
		s.opts.Logger.WarnContext(ctx, "refresh token reused; chain revoked", "audit", "auth", "chain", chain.ID)
	}
	return err
}

// vouch asks the identity sources about a refresh token's subject: the
// first that knows it decides, and its current credential must be the one
// the token was issued for. A subject no source knows is refused.
func (s *Service) vouch(ctx context.Context, c *Claims) (Identity, error) {
	if c.AuthMethod == MethodOIDC {
		return Identity{}, errOIDCNoRefresh
	}
	for _, a := range *s.authn.Load() {
		rv, ok := a.(Revocable)
		if !ok {
			continue
		}
		fp, err := rv.Credential(ctx, c.Subject)
		if errors.Is(err, ErrNotMine) {
			continue
		}
		if err != nil {
			return Identity{}, err
		}
		if !equal(fp, c.Credential) {
			return Identity{}, errRefreshChanged
		}
		id := Identity{Subject: c.Subject, Method: c.AuthMethod, credential: fp}
		if res, ok := a.(IdentityResolver); ok {
			got, err := res.Resolve(ctx, c.Subject)
			if err != nil {
				return Identity{}, err
			}
			got.credential = fp
			id = got
		}
		if id.Method != c.AuthMethod {
			return Identity{}, fmt.Errorf("%w: token says %s, source says %s", errRefreshChanged, c.AuthMethod, id.Method)
		}
		return id, nil
	}
	return Identity{}, errRefreshOrphan
}

// newChain starts a refresh chain for a login now.
func (s *Service) newChain() refreshChain {
	now := s.issuer.now().Truncate(time.Second)
	return refreshChain{ID: randomID(), Start: now, End: now.Add(s.refreshMaxLifetime())}
}

func (s *Service) refreshMaxLifetime() time.Duration {
	if s.opts.RefreshMaxLifetime > 0 {
		return s.opts.RefreshMaxLifetime
	}
	return DefaultRefreshMaxLifetime
}
