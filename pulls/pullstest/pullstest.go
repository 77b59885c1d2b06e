// Package pullstest is the contract pull tracking asks of a fleet.Store,
// in the manner of fleet/fleettest: every backend's tests call Run with a
// constructor of empty stores, so the memory store the pulls package is
// unit-tested on and the real servers (DynamoDB, PostgreSQL, MariaDB)
// answer the same questions. The cases drive real Trackers (pulls.New,
// Note, Flush) racing on one store: what replicas do.
package pullstest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/pulls"
)

// Factory returns an empty store.
type Factory func(t *testing.T) fleet.Store

// Run runs every case, each on a new store made by newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, fleet.Store)
	}{
		{"RacingFlushersConverge", testRacingFlushersConverge},
		{"StaleFlushDoesNotMoveBack", testStaleFlushDoesNotMoveBack},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

// Sizes of the race: rounds of two flushers, each flushing keys keys.
// Enough for the two to meet on every key of a round (a flush writes 8
// keys at a time), few enough for a server at a few ms a write.
const (
	rounds = 12
	keys   = 6
)

// base has nanoseconds: a store must keep the time as written.
var base = time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)

// clock is a settable clock for a Tracker.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// now returns the clock's time.
func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// set sets the clock's time.
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// digest is the i-th digest of the cases.
func digest(i int) string { return fmt.Sprintf("sha256:%064x", i) }

const repo = "team/app"

// testRacingFlushersConverge: two replicas note pulls of the same keys at
// different times and flush at once, round after round, the later one
// alternating between them. The two meet on every key (meetStore: both
// read the stored version before either writes), so every key of every
// round is a compare-and-swap race the store must settle by refusing
// exactly one write. After each round every key holds the later pull
// with its tag; meanwhile a reader polling the store never sees a key's
// time move backwards.
func testRacingFlushersConverge(t *testing.T, s fleet.Store) {
	ctx := t.Context()
	meet := newMeetStore(s)
	clocks := [2]*clock{{}, {}}
	var trs [2]*pulls.Tracker
	for i := range trs {
		trs[i] = pulls.New(pulls.Options{Store: meet, Now: clocks[i].now})
	}
	rd := pulls.Reader{Store: s}

	// The watcher reads every key until the rounds end: a time it sees
	// must never be earlier than one it saw before.
	done := make(chan struct{})
	var stopOnce sync.Once
	var watch sync.WaitGroup
	stop := func() { stopOnce.Do(func() { close(done) }); watch.Wait() }
	defer stop() // also when a round fails
	var backwards []string
	var reads int
	watch.Go(func() {
		seen := make([]time.Time, keys)
		for {
			select {
			case <-done:
				return
			default:
			}
			for k := range keys {
				r, ok, err := rd.Last(ctx, repo, digest(k))
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("watcher: %v", err)
					}
					return
				}
				reads++
				if ok && r.At.Before(seen[k]) {
					backwards = append(backwards, fmt.Sprintf("key %d: %v after %v", k, r.At, seen[k]))
				}
				if ok && r.At.After(seen[k]) {
					seen[k] = r.At
				}
			}
		}
	})

	for round := range rounds {
		// Each round is later than the last; its later replica alternates.
		later := round % 2
		at := [2]time.Time{}
		at[later] = base.Add(time.Duration(2*round+1) * time.Minute)
		at[1-later] = base.Add(time.Duration(2*round) * time.Minute)
		for i, tr := range trs {
			clocks[i].set(at[i])
			for k := range keys {
				tr.Note(repo, digest(k), fmt.Sprintf("r%d-replica%d", round, i))
			}
		}
		meet.arm()
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, tr := range trs {
			wg.Go(func() {
				<-start
				_, errs[i] = tr.Flush(ctx)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: replica %d's flush: %v", round, i, err)
			}
		}
		recs, _, err := rd.Lookup(ctx, repo)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		wantTag := fmt.Sprintf("r%d-replica%d", round, later)
		for k := range keys {
			if r := recs[digest(k)]; !r.At.Equal(at[later]) || r.Tag != wantTag {
				t.Fatalf("round %d: key %d holds %v %q, want the later pull %v %q",
					round, k, r.At, r.Tag, at[later], wantTag)
			}
		}
	}
	stop()
	if n := meet.conflicts.Load(); n != rounds*keys {
		t.Errorf("%d writes refused as conflicts, want %d: one per key and round", n, rounds*keys)
	}
	for _, b := range backwards {
		t.Errorf("a pull time moved backwards: %s", b)
	}
	for i, tr := range trs {
		if st := tr.Stats(); st.Failed != 0 || st.Buffered != 0 || st.Dropped != 0 {
			t.Errorf("replica %d: %+v, want nothing failed, dropped or left buffered", i, st)
		}
	}
	// When tracking began: one of the two first flushes, never moved.
	since, ok, err := rd.Since(ctx)
	if err != nil || !ok || !(since.Equal(base) || since.Equal(base.Add(time.Minute))) {
		t.Errorf("since %v (%v, %v), want the first round's time of either replica", since, ok, err)
	}
	t.Logf("%d rounds of 2 flushers × %d keys: %d conflicts settled; the watcher read %d times",
		rounds, keys, meet.conflicts.Load(), reads)
}

// testStaleFlushDoesNotMoveBack: a replica flushing pulls older than the
// stored ones (it noted them before a replica that flushed first) writes
// nothing and changes nothing, tag included; a newer pull of one key
// moves only that key.
func testStaleFlushDoesNotMoveBack(t *testing.T, s fleet.Store) {
	ctx := t.Context()
	fresh, stale := &clock{t: base.Add(time.Hour)}, &clock{t: base}
	a := pulls.New(pulls.Options{Store: s, Now: fresh.now})
	b := pulls.New(pulls.Options{Store: s, Now: stale.now})
	for k := range keys {
		a.Note(repo, digest(k), "new")
		b.Note(repo, digest(k), "old")
	}
	if n, err := a.Flush(ctx); err != nil || n != keys {
		t.Fatalf("first flush: %d written, %v; want %d", n, err, keys)
	}
	if n, err := b.Flush(ctx); err != nil || n != 0 {
		t.Fatalf("stale flush: %d written, %v; want 0", n, err)
	}
	stale.set(base.Add(2 * time.Hour))
	b.Note(repo, digest(0), "newer")
	if n, err := b.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("newer flush: %d written, %v; want 1", n, err)
	}
	recs, _, err := pulls.Reader{Store: s}.Lookup(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys {
		want := pulls.Record{At: base.Add(time.Hour), Tag: "new"}
		if k == 0 {
			want = pulls.Record{At: base.Add(2 * time.Hour), Tag: "newer"}
		}
		if r := recs[digest(k)]; !r.At.Equal(want.At) || r.Tag != want.Tag {
			t.Errorf("key %d: %v %q, want %v %q", k, r.At, r.Tag, want.At, want.Tag)
		}
	}
}
