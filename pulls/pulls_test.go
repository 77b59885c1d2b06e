package pulls

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

const (
	dA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	dB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func stored(t *testing.T, s fleet.Store, repo, d string) Record {
	t.Helper()
	recs, _, err := Reader{Store: s}.Lookup(t.Context(), repo)
	if err != nil {
		t.Fatal(err)
	}
	return recs[d]
}

// TestBufferKeepsTheLatestAndIsBounded: the buffer keeps the latest pull
// of a key with its tag, and past MaxEntries drops pulls of new keys,
// counting them, while keys it holds still move.
func TestBufferKeepsTheLatestAndIsBounded(t *testing.T) {
	c := &clock{t: t0}
	tr := New(Options{Store: fleet.NewMemory(0), MaxEntries: 2, Now: c.now})
	tr.Note("team/app", dA, "v1")
	c.set(t0.Add(time.Minute))
	tr.Note("team/app", dA, "")
	c.set(t0.Add(-time.Minute)) // an earlier pull noted late: ignored
	tr.Note("team/app", dA, "old")
	tr.Note("team/app", dB, "v2")
	tr.Note("team/other", dA, "v1") // a third key: dropped
	st := tr.Stats()
	if st.Noted != 5 || st.Dropped != 1 || st.Buffered != 2 {
		t.Fatalf("stats %+v, want 5 noted, 1 dropped, 2 buffered", st)
	}
	if n, err := tr.Flush(t.Context()); err != nil || n != 2 {
		t.Fatalf("flush: %d written, %v", n, err)
	}
	if r := stored(t, tr.opts.Store, "team/app", dA); !r.At.Equal(t0.Add(time.Minute)) || r.Tag != "" {
		t.Fatalf("team/app@A: %+v, want the latest pull (by digest, a minute past t0)", r)
	}
	if r := stored(t, tr.opts.Store, "team/other", dA); !r.At.IsZero() {
		t.Fatalf("the dropped pull was written: %+v", r)
	}
}

// TestReplicasConvergeToTheLatest: replicas flushing the same key, in any
// order and at once, leave the latest pull stored; an earlier flush never
// moves it back.
func TestReplicasConvergeToTheLatest(t *testing.T) {
	for _, order := range [][]int{{0, 1}, {1, 0}} {
		store := fleet.NewMemory(0)
		var trs []*Tracker
		for i, at := range []time.Time{t0.Add(time.Hour), t0} {
			c := &clock{t: at}
			trs = append(trs, New(Options{Store: store, Now: c.now}))
			trs[i].Note("team/app", dA, fmt.Sprintf("tag%d", i))
		}
		for _, i := range order {
			if _, err := trs[i].Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if r := stored(t, store, "team/app", dA); !r.At.Equal(t0.Add(time.Hour)) || r.Tag != "tag0" {
			t.Fatalf("order %v: %+v, want the later pull (tag0, t0+1h)", order, r)
		}
	}
	// 16 replicas at once, each with its own time: the maximum wins.
	store := fleet.NewMemory(0)
	var wg sync.WaitGroup
	for i := range 16 {
		c := &clock{t: t0.Add(time.Duration((i*7)%16) * time.Minute)}
		tr := New(Options{Store: store, Now: c.now})
		tr.Note("team/app", dA, "")
		wg.Go(func() {
			if _, err := tr.Flush(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if r := stored(t, store, "team/app", dA); !r.At.Equal(t0.Add(15 * time.Minute)) {
		t.Fatalf("16 concurrent replicas: %v stored, want t0+15m", r.At)
	}
}

// failingStore fails Put while fail is set.
type failingStore struct {
	fleet.Store
	fail atomic.Bool
}

func (f *failingStore) Put(ctx context.Context, space, key string, v []byte, expect int64, ttl time.Duration) (int64, error) {
	if f.fail.Load() && key != sinceKey {
		return 0, errors.New("store down")
	}
	return f.Store.Put(ctx, space, key, v, expect, ttl)
}

// TestFailedFlushKeepsThePulls: a flush the store refuses puts the pulls
// back; the next one writes them.
func TestFailedFlushKeepsThePulls(t *testing.T) {
	store := &failingStore{Store: fleet.NewMemory(0)}
	c := &clock{t: t0}
	tr := New(Options{Store: store, Now: c.now})
	tr.Note("team/app", dA, "v1")
	tr.Note("team/app", dB, "v2")
	store.fail.Store(true)
	if _, err := tr.Flush(t.Context()); err == nil {
		t.Fatal("a flush into a failing store reported no error")
	}
	if st := tr.Stats(); st.Buffered != 2 || st.Failed == 0 {
		t.Fatalf("after the failed flush: %+v, want both keys buffered again", st)
	}
	store.fail.Store(false)
	if n, err := tr.Flush(t.Context()); err != nil || n != 2 {
		t.Fatalf("the next flush: %d, %v", n, err)
	}
}

// TestRunFlushesOnTickAndAtShutdown; a crash loses only what was noted
// since the last flush.
func TestRunFlushesOnTickAndAtShutdown(t *testing.T) {
	store := fleet.NewMemory(0)
	c := &clock{t: t0}
	tr := New(Options{Store: store, Now: c.now})
	tick := make(chan time.Time)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { tr.Run(ctx, time.Hour, tick); close(done) }()
	tr.Note("team/app", dA, "v1")
	tick <- t0
	deadline := time.Now().Add(10 * time.Second)
	for stored(t, store, "team/app", dA).At.IsZero() {
		if time.Now().After(deadline) {
			t.Fatal("a tick did not flush within 10 s")
		}
		runtime.Gosched()
	}
	if since, ok, err := (Reader{Store: store}).Since(t.Context()); err != nil || !ok || !since.Equal(t0) {
		t.Fatalf("since: %v %v %v, want t0", since, ok, err)
	}
	tr.Note("team/app", dB, "v2")
	cancel()
	<-done
	if r := stored(t, store, "team/app", dB); !r.At.Equal(t0) {
		t.Fatalf("not flushed at shutdown: %+v", r)
	}
	// A replica that crashes (never flushes) loses what it noted since its
	// last flush, and only that.
	crashed := New(Options{Store: store, Now: c.now})
	crashed.Note("team/app", "sha256:cccc", "v3")
	if r := stored(t, store, "team/app", "sha256:cccc"); !r.At.IsZero() {
		t.Fatal("a pull that was never flushed is stored")
	}
}

// TestLookupStaysInsideTheRepository: Lookup pages past 1,000 items and
// reads exactly the repository's keys, not those of a repository whose
// name extends it.
func TestLookupStaysInsideTheRepository(t *testing.T) {
	store := fleet.NewMemory(0)
	c := &clock{t: t0}
	tr := New(Options{Store: store, Now: c.now})
	for i := range 2500 {
		tr.Note("team/app", fmt.Sprintf("sha256:%064d", i), "")
	}
	for _, repo := range []string{"team/ap", "team/app-x", "team/app/sub", "team/apq"} {
		tr.Note(repo, dA, "x")
	}
	if _, err := tr.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	recs, truncated, err := Reader{Store: store}.Lookup(t.Context(), "team/app")
	if err != nil || truncated || len(recs) != 2500 {
		t.Fatalf("%d records (truncated %v), %v; want 2500", len(recs), truncated, err)
	}
	if _, ok := recs[dA]; ok {
		t.Fatal("a neighbour repository's pull was read")
	}
}

// TestObserve: only a manifest GET answered 200 is noted, by tag or by
// digest; HEAD, errors, blobs and other paths are not.
func TestObserve(t *testing.T) {
	c := &clock{t: t0}
	tr := New(Options{Store: fleet.NewMemory(0), Now: c.now})
	h := Observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("fail") {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		w.Header().Set("Docker-Content-Digest", dA)
		_, _ = w.Write([]byte("{}"))
	}), tr)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/v2/team/app/manifests/v1"},
		{"GET", "/v2/team/manifests/app/manifests/" + dA},
		{"HEAD", "/v2/team/head/manifests/v1"},
		{"GET", "/v2/team/err/manifests/v1?fail=1"},
		{"GET", "/v2/team/blob/blobs/" + dA},
		{"GET", "/v2/team/x/manifests/"},
		{"GET", "/api/v1/repositories/team/y/manifests/" + dA},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.path, nil))
	}
	got := tr.take()
	want := map[Key]Record{
		{"team/app", dA}:           {At: t0, Tag: "v1"},
		{"team/manifests/app", dA}: {At: t0},
	}
	if len(got) != len(want) {
		t.Fatalf("noted %v, want %v", got, want)
	}
	for k, r := range want {
		if got[k] != r {
			t.Errorf("%v: %+v, want %+v", k, got[k], r)
		}
	}
}

// BenchmarkNote is the cost Note adds to a pull: one buffer update.
func BenchmarkNote(b *testing.B) {
	tr := New(Options{Store: fleet.NewMemory(0)})
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("sha256:%064d", i)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			tr.Note("team/app", keys[i%len(keys)], "v1")
			i++
		}
	})
}

// BenchmarkObserve is what Observe adds around a manifest GET handler
// (compare with -bench 'Observe/plain').
func BenchmarkObserve(b *testing.B) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Content-Digest", dA)
		_, _ = w.Write([]byte("{}"))
	})
	tr := New(Options{Store: fleet.NewMemory(0)})
	for name, h := range map[string]http.Handler{"plain": inner, "observed": Observe(inner, tr)} {
		b.Run(name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/v2/team/app/manifests/v1", nil)
			w := httptest.NewRecorder()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
	}
}
