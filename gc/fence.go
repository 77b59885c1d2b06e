package gc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

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

// StoreCallTimeout bounds each fleet store call of the fence, and of a
// push's references entry (fleet.WithCallTimeout, wired by the registry):
// a store that hangs instead of refusing then fails the call as
// unreachable, and a manifest PUT is answered by metadata.failmode
// (fail-open: stored with a not-indexed marker; fail-closed: 503) within
// about this long instead of the commit's 2 minutes. It is not a bound on
// waiting out a tombstone: a deleter holds one for seconds, and a writer
// that gives up on one is refused (ErrTombstoned), never let through.
const StoreCallTimeout = 10 * time.Second

// BlobTouchTimeout bounds the whole touch of a blob upload's commit or a
// mount (store calls and tombstone wait): that touch is best effort — the
// manifest's push touches every blob again and checks each exists — so an
// upload never waits on a slow or hanging store longer than this.
const BlobTouchTimeout = 5 * time.Second

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
	// parallel bounds the store calls of one TouchAll in flight.
	parallel int
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
	return &Fence{store: store, ttl: max(ttl, InFlight), now: now, parallel: TouchParallelism}
}

// SetParallelism bounds the store calls one TouchAll has in flight; 1
// makes them sequential (right for a store in this process's memory,
// where there is no round trip to overlap). Call it before use.
func (f *Fence) SetParallelism(n int) { f.parallel = max(n, 1) }

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

// TouchParallelism is the default bound on the fleet store calls one
// writer has in flight (a manifest PUT touches its config, its layers,
// its index's children).
const TouchParallelism = 8

// Touches are digests a writer uses as one kind.
type Touches struct {
	Kind    string
	Digests []digest.Digest
}

// Touch marks digests as used by a writer of kind, then waits for any
// tombstone on them to go: when it returns nil the writer may check that
// they exist and use them. See TouchAll.
func (f *Fence) Touch(ctx context.Context, kind string, digests ...digest.Digest) error {
	return f.TouchAll(ctx, Touches{Kind: kind, Digests: digests})
}

// TouchAll is Touch for several kinds at once: it writes every touch, in
// parallel (at most TouchParallelism store calls at a time, see
// SetParallelism), and only once all are written reads the digests'
// tombstones, in parallel too,
// waiting out each present one — so each digest's touch still precedes
// its tombstone read, which is all the protocol needs. Each (kind,
// digest) costs one read and one write, each digest one more read; the
// time is that of about three round trips, not three per digest. It
// returns the first error (the others are cancelled). A nil Fence does
// nothing.
func (f *Fence) TouchAll(ctx context.Context, sets ...Touches) error {
	if f == nil {
		return nil
	}
	stamp := []byte(f.now().UTC().Format(time.RFC3339Nano))
	type touch struct {
		kind string
		d    digest.Digest
	}
	var touches []touch
	var digests []digest.Digest
	seenT, seenD := map[touch]bool{}, map[digest.Digest]bool{}
	for _, set := range sets {
		for _, d := range set.Digests {
			if t := (touch{set.Kind, d}); !seenT[t] {
				seenT[t] = true
				touches = append(touches, t)
			}
			if !seenD[d] {
				seenD[d] = true
				digests = append(digests, d)
			}
		}
	}
	err := f.each(ctx, len(touches), func(ctx context.Context, i int) error {
		t := touches[i]
		if _, err := fleet.Update(ctx, f.store, touchSpace, touchKey(t.d, t.kind), f.ttl, func([]byte, bool) ([]byte, error) { return stamp, nil }); err != nil {
			return fmt.Errorf("gc: touching %s: %w", t.d, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return f.each(ctx, len(digests), func(ctx context.Context, i int) error {
		f.reach("touched", digests[i])
		return f.awaitNoTombstone(ctx, digests[i])
	})
}

// each calls fn for 0…n-1, at most f.parallel at a time, and returns the
// first error (cancelling the calls still running). With a parallelism
// of 1 (a store in this process: nothing to overlap) it runs them in turn.
func (f *Fence) each(ctx context.Context, n int, fn func(context.Context, int) error) error {
	if f.parallel <= 1 || n <= 1 {
		for i := range n {
			if err := fn(ctx, i); err != nil {
				return err
			}
		}
		return nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(f.parallel)
	for i := range n {
		g.Go(func() error { return fn(gctx, i) })
	}
	return g.Wait()
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
