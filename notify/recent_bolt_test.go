package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bbolt "go.etcd.io/bbolt"

	"github.com/imagegate/imagegate/metadata"
)

// TestRecentSurvivesRestart: a single node's recent deliveries are in its
// outbox file: closed and started again on the same file, the notifier
// shows the last RecentPerEndpoint attempts it made before, newest first
// (the successes, then the last failure), and goes on adding to them.
func TestRecentSurvivesRestart(t *testing.T) {
	rcv := newReceiver(t, secret)
	rcv.status.Store(http.StatusServiceUnavailable)
	path := filepath.Join(t.TempDir(), "out.db")
	ep := Endpoint{Name: "ci", URL: rcv.srv.URL, Secret: []byte(secret)}
	// One request at a time: the attempts are recorded in the order made.
	start := func() *Notifier {
		n, err := New(Options{Endpoints: []Endpoint{ep}, OutboxPath: path, MaxAttempts: 50,
			MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, Concurrency: 1,
			Timeout: 2 * time.Second, Registerer: prometheus.NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := start()
	ctx := context.Background()
	n.Publish(ctx, pushRecord("team/app", metadata.StatusAccepted))
	waitFor(t, "two failed attempts", func() bool { _, r, _ := rcv.snapshot(); return r >= 2 })
	rcv.status.Store(http.StatusOK)
	const events = RecentPerEndpoint - 1 // with the failures, more attempts than the log keeps
	for range events - 1 {
		n.Publish(ctx, pushRecord("team/app", metadata.StatusAccepted))
	}
	waitFor(t, "every event delivered", func() bool { a, _, _ := rcv.snapshot(); return len(a) == events })
	// Acknowledged is not yet done: Close would interrupt the last attempt
	// before its answer is read (it stays queued, unrecorded). An attempt
	// is recorded before its delivery leaves the outbox.
	waitFor(t, "the outbox empty", func() bool { p, _, err := n.Pending(); return err == nil && p == 0 })
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	acked, requests, _ := rcv.snapshot()
	failures := requests - events

	n = start()
	defer n.Close()
	got, err := n.Recent(ctx, "ci")
	if err != nil || len(got) != RecentPerEndpoint {
		t.Fatalf("after the restart: %d attempts, %v; want %d of the %d made", len(got), err, RecentPerEndpoint, requests)
	}
	failed := got[RecentPerEndpoint-1]
	if failed.Outcome != outcomeRetry || failed.Status != http.StatusServiceUnavailable || failed.Attempt != failures ||
		!strings.Contains(failed.Error, "503") {
		t.Errorf("the oldest attempt kept, want the last failure (attempt %d): %+v", failures, failed)
	}
	seen := map[string]bool{}
	for i, a := range got[:RecentPerEndpoint-1] {
		if a.Outcome != outcomeDelivered || a.Status != http.StatusOK || acked[a.EventID] != 1 || seen[a.EventID] {
			t.Errorf("attempt %d (newest first): %+v, want each event's delivery once", i, a)
		}
		seen[a.EventID] = true
		if a.At.Before(got[i+1].At) {
			t.Errorf("attempt %d at %v is older than the next one's %v", i, a.At, got[i+1].At)
		}
		if a.EventID == failed.EventID && a.Attempt != failures+1 {
			t.Errorf("the failed event's delivery is attempt %d, want %d", a.Attempt, failures+1)
		}
	}
	if !seen[failed.EventID] {
		t.Errorf("the failed event's delivery %s is not among the kept attempts", failed.EventID)
	}

	n.Publish(ctx, pushRecord("team/app", metadata.StatusAccepted))
	var now []Attempt
	waitFor(t, "the new delivery recorded on top", func() bool {
		now, _ = n.Recent(ctx, "ci")
		return len(now) > 0 && !seen[now[0].EventID]
	})
	if len(now) != RecentPerEndpoint || now[1] != got[0] || now[RecentPerEndpoint-1] != got[RecentPerEndpoint-2] {
		t.Errorf("after one more attempt: %d attempts, want the new one then the %d newest before", len(now), RecentPerEndpoint-1)
	}
}

// openRecentFile opens the outbox file at path and a recent log in it on
// clock.
func openRecentFile(t *testing.T, path string, clock func() time.Time) (*boltOutbox, *boltRecent) {
	t.Helper()
	box, err := openBoltOutbox(path)
	if err != nil {
		t.Fatal(err)
	}
	return box, openBoltRecent(box.db, clock, slog.New(slog.DiscardHandler))
}

// recentKeys returns the endpoints whose log is in the file.
func recentKeys(t *testing.T, db *bbolt.DB) []string {
	t.Helper()
	var keys []string
	if err := db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketRecent).ForEach(func(k, _ []byte) error { keys = append(keys, string(k)); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestRecentExpires: an endpoint nothing was sent to for sharedRecentTTL
// shows no log, and its log leaves the file — at the next open, or at the
// writer's next write once recentSweepEvery has passed — while a live
// endpoint's stays. An error is kept cut to maxAttemptError.
func TestRecentExpires(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var nowNs atomic.Int64
	nowNs.Store(t0.UnixNano())
	clock := func() time.Time { return time.Unix(0, nowNs.Load()).UTC() }
	path := filepath.Join(t.TempDir(), "out.db")
	ctx := context.Background()

	box, r := openRecentFile(t, path, clock)
	for _, e := range []struct {
		endpoint string
		at       time.Time
	}{{"gone", t0}, {"ci", t0.Add(sharedRecentTTL)}} {
		if err := r.add(ctx, e.endpoint, Attempt{At: e.at, EventID: "e-" + e.endpoint, Outcome: outcomeDelivered}); err != nil {
			t.Fatal(err)
		}
	}
	r.close()
	if keys := recentKeys(t, box.db); len(keys) != 2 {
		t.Fatalf("the file holds the logs of %q, want ci and gone", keys)
	}
	box.close()

	nowNs.Store(t0.Add(sharedRecentTTL + time.Minute).UnixNano())
	box, r = openRecentFile(t, path, clock)
	if keys := recentKeys(t, box.db); len(keys) != 1 || keys[0] != "ci" {
		t.Errorf("opened a week after gone's last attempt, the file holds %q, want only ci", keys)
	}
	if log, err := r.list(ctx, "ci"); err != nil || len(log) != 1 || log[0].EventID != "e-ci" {
		t.Errorf("ci's log: %+v, %v", log, err)
	}
	if log, err := r.list(ctx, "gone"); err != nil || log != nil {
		t.Errorf("gone's log: %+v, %v", log, err)
	}

	later := t0.Add(2*sharedRecentTTL + time.Minute)
	nowNs.Store(later.UnixNano())
	if log, err := r.list(ctx, "ci"); err != nil || log != nil {
		t.Errorf("a week after ci's last attempt its log shows %+v, %v", log, err)
	}
	long := Attempt{At: later, EventID: "e-new", Outcome: outcomeRetry, Error: strings.Repeat("x", 10_000)}
	if err := r.add(ctx, "new", long); err != nil {
		t.Fatal(err)
	}
	r.close()
	if keys := recentKeys(t, box.db); len(keys) != 1 || keys[0] != "new" {
		t.Errorf("after a write more than %v after the last sweep, the file holds %q, want only new", recentSweepEvery, keys)
	}
	r = openBoltRecent(box.db, clock, slog.New(slog.DiscardHandler))
	defer box.close()
	defer r.close()
	log, err := r.list(ctx, "new")
	if err != nil || len(log) != 1 {
		t.Fatalf("new's log: %+v, %v", log, err)
	}
	if len(log[0].Error) != maxAttemptError {
		t.Errorf("an error of 10,000 bytes reads back as %d bytes, want %d", len(log[0].Error), maxAttemptError)
	}
}

// TestRecentConcurrentAdds: attempts added from many goroutines at once
// (deliveries run in parallel) are all written by close, each endpoint's
// log bounded, each goroutine's attempts newest first; lists run
// meanwhile. Run it with -race.
func TestRecentConcurrentAdds(t *testing.T) {
	const writers, perWriter = 8, 60
	endpoints := []string{"a", "b", "c"}
	path := filepath.Join(t.TempDir(), "out.db")
	ctx := context.Background()
	box, r := openRecentFile(t, path, time.Now)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var listed atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if log, err := r.list(ctx, "a"); err != nil || len(log) > RecentPerEndpoint {
				t.Errorf("list during the adds: %d attempts, %v", len(log), err)
				return
			}
			listed.Add(1)
		}
	}()
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				a := Attempt{At: time.Now().UTC(), EventID: fmt.Sprintf("w%d", w), Attempt: i, Outcome: outcomeDelivered}
				if err := r.add(ctx, endpoints[i%len(endpoints)], a); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	r.close()
	box.close()

	box, r = openRecentFile(t, path, time.Now)
	defer box.close()
	defer r.close()
	for _, ep := range endpoints {
		log, err := r.list(ctx, ep)
		if err != nil || len(log) != RecentPerEndpoint {
			t.Fatalf("%s: %d attempts, %v; want %d", ep, len(log), err, RecentPerEndpoint)
		}
		last := map[string]int{}
		for _, a := range log {
			if prev, ok := last[a.EventID]; ok && a.Attempt >= prev {
				t.Errorf("%s: %s's attempt %d listed after its attempt %d (want newest first)", ep, a.EventID, a.Attempt, prev)
			}
			last[a.EventID] = a.Attempt
		}
	}
	t.Logf("%d lists ran during %d adds", listed.Load(), writers*perWriter)
}

// TestRecentWriterBehind: while the file cannot be written (another
// transaction holds it), adds are taken up to recentBuffer waiting, then
// each waits no longer than its ctx and says so; once the file is free,
// what was taken is written.
func TestRecentWriterBehind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.db")
	box, r := openRecentFile(t, path, time.Now)
	defer box.close()
	held, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = box.db.Update(func(*bbolt.Tx) error { close(held); <-release; return nil })
	}()
	<-held
	// The first recentBuffer adds fit in the buffer whatever the writer
	// does: they get a deadline only against a hang, not the short one
	// below, which a goroutine descheduled on a loaded machine can outlive
	// before add's select (that then picks ctx.Done half the time).
	fits, cancelFits := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancelFits()
	var taken int
	for ; taken < recentBuffer; taken++ {
		if err := r.add(fits, "ci", Attempt{At: time.Now().UTC(), Attempt: taken, Outcome: outcomeDelivered}); err != nil {
			t.Fatalf("attempt %d of the first %d while the file was held: %v; want it taken", taken, recentBuffer, err)
		}
	}
	var err error
	for taken < 4*recentBuffer {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err = r.add(ctx, "ci", Attempt{At: time.Now().UTC(), Attempt: taken, Outcome: outcomeDelivered})
		cancel()
		if err != nil {
			break
		}
		taken++
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("after %d attempts taken while the file was held: %v; want a deadline error", taken, err)
	}
	close(release)
	r.close()
	r = openBoltRecent(box.db, time.Now, slog.New(slog.DiscardHandler))
	defer r.close()
	log, err := r.list(context.Background(), "ci")
	if err != nil || len(log) != RecentPerEndpoint || log[0].Attempt != taken-1 {
		t.Errorf("written once the file was free: %d attempts, %v; want the %d newest, %d first", len(log), err, RecentPerEndpoint, taken-1)
	}
}
