package recorder

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagegate/imagegate/internal/health"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/bolt"
)

// flakyStore is a fault-injection fake around a real bolt store: while
// down is set, every call fails as an unreachable backend would.
type flakyStore struct {
	metadata.Store
	down atomic.Bool
}

var errDown = errors.Join(metadata.ErrUnavailable, errors.New("connection refused (injected)"))

func (f *flakyStore) Put(ctx context.Context, r *metadata.Record) error {
	if f.down.Load() {
		return errDown
	}
	return f.Store.Put(ctx, r)
}

func (f *flakyStore) Finish(ctx context.Context, id string, fin metadata.Finish) error {
	if f.down.Load() {
		return errDown
	}
	return f.Store.Finish(ctx, id, fin)
}

func (f *flakyStore) Ping(ctx context.Context) error {
	if f.down.Load() {
		return errDown
	}
	return f.Store.Ping(ctx)
}

func newFlaky(t *testing.T) *flakyStore {
	s, err := bolt.Open(filepath.Join(t.TempDir(), "m.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &flakyStore{Store: s}
}

func newRecorder(t *testing.T, s metadata.Store, mode Mode, outbox string) *Recorder {
	r, err := New(s, Options{Mode: mode, OutboxPath: outbox, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func rec(status metadata.Status) *metadata.Record {
	return &metadata.Record{ID: metadata.NewID(), Kind: metadata.KindPush, Repository: "a/b", Status: status}
}

func waitDrained(t *testing.T, r *Recorder) {
	t.Helper()
	waitFor(t, "the outbox to drain", func() bool {
		n, err := r.Pending()
		if err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
}

func TestFailClosedRefusesWhileDown(t *testing.T) {
	s := newFlaky(t)
	r := newRecorder(t, s, FailClosed, filepath.Join(t.TempDir(), "outbox.db"))
	defer r.Close()
	s.down.Store(true)
	if err := r.Put(context.Background(), rec(metadata.StatusPending)); !errors.Is(err, metadata.ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	if err := r.Check(context.Background()); err == nil || health.IsDegraded(err) {
		t.Fatalf("readiness while down in fail-closed mode: %v (want failing)", err)
	}
	if n, _ := r.Pending(); n != 0 {
		t.Fatalf("fail-closed queued %d ops", n)
	}
}

// TestFailOpenQueuesAndReplays: records written while the store is down
// are queued, survive a restart of the recorder, and reach the store once
// it is back, each exactly once and finished.
func TestFailOpenQueuesAndReplays(t *testing.T) {
	s := newFlaky(t)
	outbox := filepath.Join(t.TempDir(), "outbox.db")
	r := newRecorder(t, s, FailOpen, outbox)
	ctx := context.Background()

	s.down.Store(true)
	var ids []string
	for range 5 {
		x := rec(metadata.StatusPending)
		ids = append(ids, x.ID)
		if err := r.Put(ctx, x); err != nil {
			t.Fatalf("fail-open Put: %v", err)
		}
		if err := r.Finish(ctx, x.ID, metadata.Finish{Status: metadata.StatusAccepted, CommittedAt: time.Now().UTC()}); err != nil {
			t.Fatalf("Finish: %v", err)
		}
	}
	if err := r.Check(ctx); !health.IsDegraded(err) {
		t.Fatalf("readiness: %v, want degraded", err)
	}
	// Restart: the outbox is a file; a new recorder picks it up.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = newRecorder(t, s, FailOpen, outbox)
	defer r.Close()
	if n, _ := r.Pending(); n != 10 {
		t.Fatalf("outbox holds %d ops after restart, want 10", n)
	}
	s.down.Store(false)
	waitDrained(t, r)
	for _, id := range ids {
		got, err := s.Get(ctx, id)
		if err != nil {
			t.Fatalf("record %s lost: %v", id, err)
		}
		if got.Status != metadata.StatusAccepted {
			t.Fatalf("record %s is %s", id, got.Status)
		}
	}
	page, err := s.List(ctx, metadata.Query{Repository: "a/b"})
	if err != nil || len(page.Records) != 5 {
		t.Fatalf("%d records stored (%v), want 5", len(page.Records), err)
	}
	if err := r.Check(ctx); err != nil {
		t.Fatalf("readiness after replay: %v", err)
	}
}

// TestFinishNeverFailsTheCaller: in fail-closed mode too, a Finish that
// cannot reach the store is queued, since what it records already happened.
func TestFinishNeverFailsTheCaller(t *testing.T) {
	s := newFlaky(t)
	r := newRecorder(t, s, FailClosed, filepath.Join(t.TempDir(), "outbox.db"))
	defer r.Close()
	ctx := context.Background()
	x := rec(metadata.StatusPending)
	if err := r.Put(ctx, x); err != nil {
		t.Fatal(err)
	}
	s.down.Store(true)
	if err := r.Finish(ctx, x.ID, metadata.Finish{Status: metadata.StatusAccepted, CommittedAt: time.Now().UTC()}); err != nil {
		t.Fatalf("Finish failed the caller: %v", err)
	}
	s.down.Store(false)
	waitDrained(t, r)
	if got, _ := s.Get(ctx, x.ID); got == nil || got.Status != metadata.StatusAccepted {
		t.Fatalf("finish not replayed: %+v", got)
	}
}

func TestRejectsUnknownMode(t *testing.T) {
	if _, err := New(newFlaky(t), Options{Mode: "sometimes", OutboxPath: filepath.Join(t.TempDir(), "o.db")}); err == nil {
		t.Fatal("accepted an unknown mode")
	}
}
