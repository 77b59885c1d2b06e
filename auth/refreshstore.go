package auth

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Refresh-chain errors. Each refuses the refresh grant.
var (
	// ErrRefreshReused: a refresh token that was already rotated (exchanged
	// for a successor) was presented again — someone holds a copy. The
	// chain is revoked.
	ErrRefreshReused = errors.New("auth: refresh token reused after rotation")
	// ErrRefreshRevoked: the token's chain was revoked.
	ErrRefreshRevoked = errors.New("auth: refresh token chain revoked")
	// ErrRefreshStoreFull: the store holds as many entries as it may;
	// rotation is refused until entries expire.
	ErrRefreshStoreFull = errors.New("auth: refresh token store full")
)

// RefreshStore is the state behind refresh-token rotation: which token IDs
// were rotated already and which chains are revoked. It is a deny-list:
// a chain or token it has never seen is valid (so a replica that did not
// issue a token still accepts it). Entries need living only until the
// given time (the token's or chain's end); stores may forget them after.
//
// MemoryRefreshStore is per process; FleetRefreshStore, over the store
// the replicas share, makes every replica see a rotation and a
// revocation. Both pass the same contract tests (refreshstore_test.go).
type RefreshStore interface {
	// Check returns nil when token id of chain may be redeemed,
	// ErrRefreshRevoked when chain is revoked, ErrRefreshReused when id was
	// rotated before.
	Check(ctx context.Context, chain, id string) error
	// Rotate marks id of chain used until until, atomically: if it already
	// was, it returns ErrRefreshReused and changes nothing.
	Rotate(ctx context.Context, chain, id string, until time.Time) error
	// Revoke revokes chain until until (its absolute end). It should
	// succeed even when the store refuses rotations for want of room.
	Revoke(ctx context.Context, chain string, until time.Time) error
}

// DefaultRefreshStoreEntries bounds a MemoryRefreshStore made with 0.
const DefaultRefreshStoreEntries = 100000

// MemoryRefreshStore is a RefreshStore in process memory, bounded to max
// rotated token IDs. State is lost on restart and not shared between
// replicas: a token rotated on one replica may still be redeemed, once,
// on another, and after a restart a rotated token is valid again until it
// expires (docs/auth.md).
type MemoryRefreshStore struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	used    map[string]time.Time // token ID → until
	revoked map[string]time.Time // chain → until
}

// NewMemoryRefreshStore returns an empty store holding at most max rotated
// token IDs (0: DefaultRefreshStoreEntries).
func NewMemoryRefreshStore(max int) *MemoryRefreshStore {
	if max <= 0 {
		max = DefaultRefreshStoreEntries
	}
	return &MemoryRefreshStore{max: max, now: time.Now, used: map[string]time.Time{}, revoked: map[string]time.Time{}}
}

// Check implements RefreshStore.
func (m *MemoryRefreshStore) Check(_ context.Context, chain, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if until, ok := m.revoked[chain]; ok && now.Before(until) {
		return ErrRefreshRevoked
	}
	if until, ok := m.used[id]; ok && now.Before(until) {
		return ErrRefreshReused
	}
	return nil
}

// Rotate implements RefreshStore. When full it first forgets expired
// entries, then refuses with ErrRefreshStoreFull.
func (m *MemoryRefreshStore) Rotate(_ context.Context, _, id string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if u, ok := m.used[id]; ok && now.Before(u) {
		return ErrRefreshReused
	}
	if len(m.used)+len(m.revoked) >= m.max {
		m.prune(now)
		if len(m.used)+len(m.revoked) >= m.max {
			return ErrRefreshStoreFull
		}
	}
	m.used[id] = until
	return nil
}

// Revoke implements RefreshStore. It always records the revocation: a
// revocation follows a successful rotation, so revocations cannot outgrow
// the bound on rotations by more than the rotations themselves.
func (m *MemoryRefreshStore) Revoke(_ context.Context, chain string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revoked[chain] = until
	return nil
}

// Len is the number of entries held, for tests and metrics.
func (m *MemoryRefreshStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.used) + len(m.revoked)
}

func (m *MemoryRefreshStore) prune(now time.Time) {
	for k, until := range m.used {
		if !now.Before(until) {
			delete(m.used, k)
		}
	}
	for k, until := range m.revoked {
		if !now.Before(until) {
			delete(m.revoked, k)
		}
	}
}

var _ RefreshStore = (*MemoryRefreshStore)(nil)
