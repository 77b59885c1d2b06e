package push

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mathrand "math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/internal/logs"
)

// LockSpace is the fleet space of tag locks.
const LockSpace = "tag-locks"

// DefaultLockTTL is how long a tag lock outlives a holder that died
// without releasing it. A live holder renews its locks every third of it,
// so a commit may hold them as long as it runs.
const DefaultLockTTL = 30 * time.Second

// Bounds of the wait between two tries of a held lock; each wait doubles,
// with jitter. A lock released by this process wakes its waiters at once.
const (
	lockPollMin = 10 * time.Millisecond
	lockPollMax = 200 * time.Millisecond
)

// FleetLocks are TagLocks held as leases (fleet.Acquire) in a fleet.Store,
// so that every process sharing the store — replicas of one deployment
// over DynamoDB, or the goroutines of one process over fleet.Memory —
// excludes the others. Each Lock takes its keys under an owner of its own
// (replica name and a random nonce), renews them while held and releases
// them all at unlock.
//
// When the shared store cannot be reached, Lock falls back to locks in
// this process (logged): a store outage degrades tag moves to per-replica
// exclusion instead of refusing every push — the metadata store's fail
// mode decides whether pushes go on while the store is down.
type FleetLocks struct {
	store   fleet.Store
	local   *FleetLocks // the fallback; nil when store is this process's own
	replica string
	ttl     time.Duration
	logger  *slog.Logger

	mu    sync.Mutex
	freed chan struct{} // closed (and replaced) whenever this instance releases locks
}

// FleetLocksOptions configure FleetLocks.
type FleetLocksOptions struct {
	// Replica names this process in lock owners, for operators reading
	// the store; "" is "local".
	Replica string
	// TTL is DefaultLockTTL when 0.
	TTL    time.Duration
	Logger *slog.Logger
}

// NewFleetLocks returns tag locks over store.
func NewFleetLocks(store fleet.Store, opts FleetLocksOptions) *FleetLocks {
	f := &FleetLocks{store: store, replica: opts.Replica, ttl: opts.TTL, logger: opts.Logger, freed: make(chan struct{})}
	if f.replica == "" {
		f.replica = "local"
	}
	if f.ttl <= 0 {
		f.ttl = DefaultLockTTL
	}
	if f.logger == nil {
		f.logger = slog.New(slog.DiscardHandler)
	}
	if _, own := store.(*fleet.Memory); !own {
		f.local = NewLocalLocks()
	}
	return f
}

// Lock implements TagLocks. It returns ctx's error, holding nothing, when
// ctx ends first; a store error makes it take the keys in this process
// instead.
func (f *FleetLocks) Lock(ctx context.Context, keys []string) (func(), error) {
	unlock, err := f.lock(ctx, keys)
	if err == nil || f.local == nil || ctx.Err() != nil {
		return unlock, err
	}
	f.logger.WarnContext(ctx, "the shared tag-lock store is unreachable; locking in this process only", "error", err.Error())
	return f.local.Lock(ctx, keys)
}

// lock takes keys in the store.
func (f *FleetLocks) lock(ctx context.Context, keys []string) (func(), error) {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	owner := f.replica + "/" + nonce()
	leases := make([]*fleet.Lease, 0, len(keys))
	for _, k := range keys {
		l, err := f.acquire(ctx, k, owner)
		if err != nil {
			f.release(leases)
			return nil, fmt.Errorf("push: locking tag %s: %w", k, err)
		}
		leases = append(leases, l)
	}
	stop := f.keepAlive(leases)
	var once sync.Once
	return func() {
		once.Do(func() {
			stop()
			f.release(leases)
		})
	}, nil
}

// acquire waits until it holds key, or ctx ends.
func (f *FleetLocks) acquire(ctx context.Context, key, owner string) (*fleet.Lease, error) {
	wait := lockPollMin
	for {
		f.mu.Lock()
		freed := f.freed
		f.mu.Unlock()
		l, err := fleet.Acquire(ctx, f.store, LockSpace, lockKey(key), owner, f.ttl)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, fleet.ErrHeld) {
			return nil, err
		}
		t := time.NewTimer(wait/2 + mathrand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-freed:
		case <-t.C:
		}
		t.Stop()
		wait = min(2*wait, lockPollMax)
	}
}

// keepAlive renews leases every third of the TTL until stop returns.
func (f *FleetLocks) keepAlive(leases []*fleet.Lease) (stop func()) {
	if len(leases) == 0 {
		return func() {}
	}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(f.ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), f.ttl/3)
			for _, l := range leases {
				if err := l.Renew(ctx); err != nil {
					f.logger.Error("renewing a tag lock failed; another push may move the tag", "tag", l.Key(), "error", err.Error())
				}
			}
			cancel()
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// lockReleaseTimeout bounds releasing the locks of one Lock.
const lockReleaseTimeout = 10 * time.Second

// release gives leases up and wakes this process's waiters. A lease that
// cannot be released expires after the TTL.
func (f *FleetLocks) release(leases []*fleet.Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), lockReleaseTimeout)
	defer cancel()
	for _, l := range slices.Backward(leases) {
		if err := l.Release(ctx); err != nil {
			f.logger.Warn("releasing a tag lock failed; it expires on its own", "tag", l.Key(), logs.Ms("ttl_ms", f.ttl), "error", err.Error())
		}
	}
	f.mu.Lock()
	close(f.freed)
	f.freed = make(chan struct{})
	f.mu.Unlock()
}

// lockKey is key as a store key: itself, or its digest when longer than
// the store allows.
func lockKey(key string) string {
	if len(key) <= fleet.MaxKeyBytes {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// nonce is 64 random bits, hex-encoded.
func nonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

var _ TagLocks = (*FleetLocks)(nil)
