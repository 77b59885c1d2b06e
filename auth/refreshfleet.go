package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// RefreshSpace is the fleet space of FleetRefreshStore.
const RefreshSpace = "refresh-tokens"

// ErrRefreshStoreUnavailable: the shared refresh store could not be read
// or written. The refresh grant is refused with 503 (the client keeps its
// token and retries): a deny-list that cannot be read cannot vouch that a
// token was not stolen and reused (fail closed), and the error is not the
// client's.
var ErrRefreshStoreUnavailable = errors.New("auth: refresh token store unavailable")

// FleetRefreshStore is a RefreshStore in a fleet.Store (space
// "refresh-tokens"), shared by the replicas using the same store: a token
// rotated on one is reused on every other, a chain revoked on one is
// revoked on all. Each entry expires at the until it was given.
//
// Rotation is a create-if-absent write, so of two replicas rotating the
// same token at once exactly one succeeds. A full store (fleet.ErrFull)
// refuses rotations with ErrRefreshStoreFull; unlike MemoryRefreshStore
// it may then refuse a revocation too — the reused token is refused
// anyway, only its chain's other tokens stay valid until they expire.
type FleetRefreshStore struct {
	store fleet.Store
	now   func() time.Time
}

// NewFleetRefreshStore returns a refresh store over s.
func NewFleetRefreshStore(s fleet.Store) *FleetRefreshStore {
	return &FleetRefreshStore{store: s, now: time.Now}
}

// Keys of the entries: a used token ID, a revoked chain.
func usedKey(id string) string       { return "used:" + id }
func revokedKey(chain string) string { return "revoked:" + chain }

// Check implements RefreshStore.
func (f *FleetRefreshStore) Check(ctx context.Context, chain, id string) error {
	for _, c := range []struct {
		key  string
		deny error
	}{{revokedKey(chain), ErrRefreshRevoked}, {usedKey(id), ErrRefreshReused}} {
		_, err := f.store.Get(ctx, RefreshSpace, c.key)
		switch {
		case err == nil:
			return c.deny
		case !errors.Is(err, fleet.ErrNotFound):
			return unavailable("checking a refresh token", err)
		}
	}
	return nil
}

// Rotate implements RefreshStore. A token whose until has passed is not
// recorded: it can no longer be verified, so never redeemed again.
func (f *FleetRefreshStore) Rotate(ctx context.Context, chain, id string, until time.Time) error {
	ttl := until.Sub(f.now())
	if ttl <= 0 {
		return nil
	}
	_, err := f.store.Put(ctx, RefreshSpace, usedKey(id), []byte(chain), 0, ttl)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fleet.ErrConflict):
		return ErrRefreshReused
	case errors.Is(err, fleet.ErrFull):
		return ErrRefreshStoreFull
	}
	return unavailable("rotating a refresh token", err)
}

// Revoke implements RefreshStore.
func (f *FleetRefreshStore) Revoke(ctx context.Context, chain string, until time.Time) error {
	ttl := until.Sub(f.now())
	if ttl <= 0 {
		return nil
	}
	_, err := fleet.Update(ctx, f.store, RefreshSpace, revokedKey(chain), ttl, func([]byte, bool) ([]byte, error) {
		return []byte("revoked"), nil
	})
	if err != nil {
		return unavailable("revoking a refresh chain", err)
	}
	return nil
}

func unavailable(doing string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrRefreshStoreUnavailable, doing, err)
}

var _ RefreshStore = (*FleetRefreshStore)(nil)
