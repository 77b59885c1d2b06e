package pulls

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// Space is the fleet space of the pull records: one item per (repository,
// digest) under "<repository>@<digest>", and the marker sinceKey.
const Space = "pulls"

// sinceKey holds when this deployment started tracking pulls. "~" sorts
// after every repository name, so it is never inside a repository's keys.
const sinceKey = "~since"

// maxMergeAttempts bounds merge's compare-and-swap loop.
const maxMergeAttempts = 16

// itemKey is the fleet key of k.
func itemKey(k Key) string { return k.Repository + "@" + k.Digest }

// merge writes r under k unless the stored pull is as late or later: the
// store never moves backwards, whichever replica writes last. It reports
// whether it wrote.
func merge(ctx context.Context, s fleet.Store, k Key, r Record, ttl time.Duration) (bool, error) {
	key := itemKey(k)
	value, err := json.Marshal(r)
	if err != nil {
		return false, err
	}
	for range maxMergeAttempts {
		var version int64
		it, err := s.Get(ctx, Space, key)
		switch {
		case err == nil:
			var cur Record
			if json.Unmarshal(it.Value, &cur) == nil && !r.newer(cur) {
				return false, nil
			}
			version = it.Version
		case !errors.Is(err, fleet.ErrNotFound):
			return false, fmt.Errorf("pulls: reading %s: %w", key, err)
		}
		_, err = s.Put(ctx, Space, key, value, version, ttl)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, fleet.ErrConflict) {
			return false, fmt.Errorf("pulls: writing %s: %w", key, err)
		}
	}
	return false, fmt.Errorf("pulls: writing %s: %d conflicting writers in a row: %w", key, maxMergeAttempts, fleet.ErrConflict)
}

// markSince records now as when tracking began, unless a replica did
// before (the marker never moves; a memory store forgets it on restart,
// as it forgets the pulls).
func markSince(ctx context.Context, s fleet.Store, now time.Time) error {
	v, _ := json.Marshal(now.UTC())
	_, err := s.Put(ctx, Space, sinceKey, v, 0, 0)
	if err != nil && !errors.Is(err, fleet.ErrConflict) {
		return fmt.Errorf("pulls: marking when tracking began: %w", err)
	}
	return nil
}

// Reader reads the pull records back.
type Reader struct {
	Store fleet.Store
	// Expiry is how long a record lives after its latest pull (the
	// Tracker's Options.Expiry, lifecycle.pulls.expiry); 0: Coverage
	// assumes records never expire.
	Expiry time.Duration
	// Now is the clock Coverage reads (tests); nil: the wall clock.
	Now func() time.Time
}

// maxLookup bounds the records Lookup reads for one repository.
const maxLookup = 100000

// Lookup returns the latest pull of every digest of repo that has one,
// by digest (at most maxLookup digests, in key order; truncated: more).
func (rd Reader) Lookup(ctx context.Context, repo string) (out map[string]Record, truncated bool, err error) {
	prefix := repo + "@"
	out = map[string]Record{}
	after := prefix
	for {
		items, err := rd.Store.List(ctx, Space, after, fleet.MaxListLimit)
		if err != nil {
			return nil, false, fmt.Errorf("pulls: listing the pulls of %s: %w", repo, err)
		}
		for _, it := range items {
			d, ok := strings.CutPrefix(it.Key, prefix)
			if !ok {
				return out, false, nil
			}
			if len(out) == maxLookup {
				return out, true, nil
			}
			var r Record
			if json.Unmarshal(it.Value, &r) == nil {
				out[d] = r
			}
		}
		if len(items) < fleet.MaxListLimit {
			return out, false, nil
		}
		after = items[len(items)-1].Key
	}
}

// Last returns the latest pull of digest in repo; false when none is
// recorded.
func (rd Reader) Last(ctx context.Context, repo, digest string) (Record, bool, error) {
	it, err := rd.Store.Get(ctx, Space, itemKey(Key{Repository: repo, Digest: digest}))
	if errors.Is(err, fleet.ErrNotFound) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("pulls: reading the last pull of %s@%s: %w", repo, digest, err)
	}
	var r Record
	if err := json.Unmarshal(it.Value, &r); err != nil {
		return Record{}, false, fmt.Errorf("pulls: reading the last pull of %s@%s: %w", repo, digest, err)
	}
	return r, true, nil
}

// Since returns when this deployment began tracking pulls; false when it
// has not (no flush yet, or a memory store restarted).
func (rd Reader) Since(ctx context.Context) (time.Time, bool, error) {
	it, err := rd.Store.Get(ctx, Space, sinceKey)
	if errors.Is(err, fleet.ErrNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("pulls: reading when tracking began: %w", err)
	}
	var t time.Time
	if err := json.Unmarshal(it.Value, &t); err != nil {
		return time.Time{}, false, fmt.Errorf("pulls: reading when tracking began: %w", err)
	}
	return t, true, nil
}
