package gc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/fleet"
)

// Fleet spaces of the protocol.
const (
	touchSpace = "gc-touch"
	tombSpace  = "gc-tomb"
)

// Touch kinds: a push's reference to a digest, or a blob written or
// mounted into a repository (its own upload).
const (
	KindRef  = "r"
	KindBlob = "b"
	// KindSelf: a push of the manifest itself (a retag, a retry).
	KindSelf = "s"
)

// InFlight bounds how long after touching a digest a push stores the
// manifest that references it: the touch is written in the commit, which
// ends within the pipeline's commit timeout (2 minutes). A deletion that
// finds a reference touch younger than this refuses: a push naming the
// digest may still be storing.
const InFlight = 5 * time.Minute

// TombstoneTTL is how long a tombstone lives if its holder dies; a holder
// deletes only within TombstoneTTL/4 of writing it (Tombstone.Fresh).
const TombstoneTTL = 4 * time.Minute

// Fence is the touch/tombstone protocol between writers (pushes, blob
// uploads, mounts) and deleters (the collector, manifest deletions):
//
//	writer:  touch(d)      then read tombstone(d) — present: wait until it is gone
//	deleter: tombstone(d)  then read touch(d)     — present: skip d
//
// Of the two second reads at least one sees the other's first write, so a
// deleter never removes a digest a writer went on to use without waiting;
// a writer that waited re-checks that the digest exists (the store stage
// of a push and distribution's upload commit do) and answers BLOB_UNKNOWN
// / MANIFEST_BLOB_UNKNOWN when it went.
type Fence struct {
	store fleet.Store
	// TTL is how long a touch protects its digest from the collector: the
	// grace period.
	ttl time.Duration
	now func() time.Time
	// hook, in tests, is called at the protocol's points ("touched",
	// "waiting") to replay races deterministically.
	hook func(point string, d digest.Digest)
}

// NewFence returns the protocol over store; touches live ttl (the grace
// period, at least InFlight).
func NewFence(store fleet.Store, ttl time.Duration, now func() time.Time) *Fence {
	if now == nil {
		now = time.Now
	}
	return &Fence{store: store, ttl: max(ttl, InFlight), now: now}
}

// SetHook installs a test hook called at the protocol's points.
func (f *Fence) SetHook(h func(point string, d digest.Digest)) { f.hook = h }

func (f *Fence) reach(point string, d digest.Digest) {
	if f != nil && f.hook != nil {
		f.hook(point, d)
	}
}

// touchKey is the key of d's touches of kind: one item per digest and
// kind, holding the newest touch's time, so the store holds at most one
// per digest used within the grace period.
func touchKey(d digest.Digest, kind string) string { return d.String() + "/" + kind }

// Touch marks digests as used by a writer of kind, then waits for any
// tombstone on them to go: when it returns nil the writer may check that
// they exist and use them. Each digest costs two reads and one write. A
// nil Fence does nothing.
func (f *Fence) Touch(ctx context.Context, kind string, digests ...digest.Digest) error {
	if f == nil || len(digests) == 0 {
		return nil
	}
	now := f.now()
	seen := make(map[digest.Digest]bool, len(digests))
	for _, d := range digests {
		if seen[d] {
			continue
		}
		seen[d] = true
		stamp := []byte(now.UTC().Format(time.RFC3339Nano))
		if _, err := fleet.Update(ctx, f.store, touchSpace, touchKey(d, kind), f.ttl, func([]byte, bool) ([]byte, error) { return stamp, nil }); err != nil {
			return fmt.Errorf("gc: touching %s: %w", d, err)
		}
	}
	for d := range seen {
		f.reach("touched", d)
		if err := f.awaitNoTombstone(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// ErrTombstoned: a digest a writer touched stayed tombstoned longer than
// a deleter may hold it (the store answered: it is not unreachable).
var ErrTombstoned = errors.New("gc: a digest stayed tombstoned")

// awaitNoTombstone returns once d carries no tombstone (its deleter
// decided), polling with a growing interval, bounded by ctx and the
// tombstone's own life.
func (f *Fence) awaitNoTombstone(ctx context.Context, d digest.Digest) error {
	deadline := time.Now().Add(TombstoneTTL + 10*time.Second)
	wait := 20 * time.Millisecond
	for {
		_, err := f.store.Get(ctx, tombSpace, d.String())
		if errors.Is(err, fleet.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("gc: reading the tombstone of %s: %w", d, err)
		}
		f.reach("waiting", d)
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s past %s", ErrTombstoned, d, TombstoneTTL)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, time.Second)
	}
}

// Tombstone is a deleter's claim on a digest.
type Tombstone struct {
	f       *Fence
	d       digest.Digest
	version int64
	at      time.Time
}

// ErrClaimed: another deleter holds the digest's tombstone.
var ErrClaimed = errors.New("gc: another deleter holds the tombstone")

// Claim writes d's tombstone (compare-and-swap: one deleter at a time).
func (f *Fence) Claim(ctx context.Context, d digest.Digest, owner string) (*Tombstone, error) {
	v, err := f.store.Put(ctx, tombSpace, d.String(), []byte(owner), 0, TombstoneTTL)
	if errors.Is(err, fleet.ErrConflict) {
		return nil, fmt.Errorf("%w: %s", ErrClaimed, d)
	}
	if err != nil {
		return nil, fmt.Errorf("gc: tombstoning %s: %w", d, err)
	}
	return &Tombstone{f: f, d: d, version: v, at: time.Now()}, nil
}

// Touched reports the newest touch of d of kind ("" every kind) that is
// still live, read after the tombstone was written: the zero time when
// none. One read per kind.
func (t *Tombstone) Touched(ctx context.Context, kind string) (time.Time, error) {
	kinds := []string{kind}
	if kind == "" {
		kinds = []string{KindBlob, KindRef, KindSelf}
	}
	var newest time.Time
	for _, k := range kinds {
		it, err := t.f.store.Get(ctx, touchSpace, touchKey(t.d, k))
		if errors.Is(err, fleet.ErrNotFound) {
			continue
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("gc: reading the touches of %s: %w", t.d, err)
		}
		at, err := time.Parse(time.RFC3339Nano, string(it.Value))
		if err != nil {
			at = t.f.now() // touched, time unreadable: count it as now
		}
		if at.After(newest) {
			newest = at
		}
	}
	return newest, nil
}

// Fresh reports whether the tombstone is young enough to delete under:
// a writer that reads it later than TombstoneTTL would miss it.
func (t *Tombstone) Fresh() bool { return time.Since(t.at) < TombstoneTTL/4 }

// Release removes the tombstone: writers waiting on it go on.
func (t *Tombstone) Release(ctx context.Context) error {
	err := t.f.store.Delete(ctx, tombSpace, t.d.String(), t.version)
	if errors.Is(err, fleet.ErrConflict) {
		return nil
	}
	return err
}
