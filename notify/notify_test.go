package notify

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imagegate/imagegate/metadata"
)

const secret = "s3cret-for-tests"

func newNotifier(t *testing.T, outbox string, eps ...Endpoint) (*Notifier, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	n, err := New(Options{
		Endpoints: eps, OutboxPath: outbox, Source: "https://registry.test",
		MaxAttempts: 50, MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
		Concurrency: 4, Timeout: 2 * time.Second, Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, reg
}

func pushRecord(repo string, status metadata.Status) metadata.Record {
	now := time.Now().UTC()
	return metadata.Record{
		ID: metadata.NewID(), Kind: metadata.KindPush, Repository: repo, Tags: []string{"1.0"},
		Digest: digest.FromString(repo + metadata.NewID()), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Size: 1234, ReceivedAt: now, CommittedAt: &now, Status: status, Source: metadata.SourceDockerPush,
		User:   metadata.User{Subject: "alice", Method: "password", Roles: []string{"admin"}},
		Scan:   &metadata.ScanSummary{Scanner: "trivy 0.74.0", Counts: map[string]int{"HIGH": 2}, Verdict: "audit:pass"},
		Reason: map[bool]string{true: "denied: 2 HIGH"}[status == metadata.StatusRejected],
	}
}

func TestDeliveryIsSignedCloudEvent(t *testing.T) {
	rcv := newReceiver(t, secret)
	n, reg := newNotifier(t, filepath.Join(t.TempDir(), "out.db"),
		Endpoint{Name: "ci", URL: rcv.srv.URL, Secret: []byte(secret)})
	defer n.Close()

	rec := pushRecord("team/app", metadata.StatusAccepted)
	n.Publish(context.Background(), rec)
	waitFor(t, "the delivery", func() bool { a, _, _ := rcv.snapshot(); return len(a) == 1 })

	rcv.mu.Lock()
	var ev Event
	for _, e := range rcv.events {
		ev = e
	}
	key := rcv.keys[0]
	rcv.mu.Unlock()
	if ev.SpecVersion != "1.0" || ev.Type != PushAccepted || ev.Source != "https://registry.test" ||
		ev.DataContentType != "application/json" || ev.ID == "" || key != ev.ID {
		t.Fatalf("event attributes: %+v (idempotency key %q)", ev, key)
	}
	if want := "team/app@" + rec.Digest.String(); ev.Subject != want {
		t.Errorf("subject %q, want %q", ev.Subject, want)
	}
	d := ev.Data
	if d.RecordID != rec.ID || d.Repository != "team/app" || d.Digest != rec.Digest || d.Size != 1234 ||
		len(d.Tags) != 1 || d.User == nil || d.User.Subject != "alice" || d.Scan == nil || d.Scan.Counts["HIGH"] != 2 ||
		d.Status != metadata.StatusAccepted {
		t.Errorf("data: %+v", d)
	}
	if !ev.Time.Equal(*rec.CommittedAt) {
		t.Errorf("time %s, want the commit time %s", ev.Time, rec.CommittedAt)
	}
	waitFor(t, "the delivered metric", func() bool {
		return testutil.ToFloat64(n.metrics.deliveries.WithLabelValues("ci", outcomeDelivered)) == 1
	})
	if c, err := testutil.GatherAndCount(reg, "imagegate_notifications_outbox_deliveries"); err != nil || c != 2 {
		t.Errorf("outbox gauges: %d, %v", c, err)
	}
}

func TestWrongSecretIsRefusedByVerify(t *testing.T) {
	rcv := newReceiver(t, "the-receivers-secret")
	n, _ := newNotifier(t, filepath.Join(t.TempDir(), "out.db"),
		Endpoint{Name: "ci", URL: rcv.srv.URL, Secret: []byte("another-secret")})
	defer n.Close()
	n.Publish(context.Background(), pushRecord("team/app", metadata.StatusAccepted))
	waitFor(t, "a refused request", func() bool { _, _, bad := rcv.snapshot(); return bad >= 1 })
	if a, _, _ := rcv.snapshot(); len(a) != 0 {
		t.Fatalf("a badly signed event was acknowledged: %v", a)
	}
}

func TestVerifyRejectsStaleAndTampered(t *testing.T) {
	body := []byte(`{"id":"x"}`)
	ts := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	h.Set(HeaderTimestamp, fmt.Sprint(ts.Unix()))
	h.Set(HeaderSignature, Sign([]byte(secret), ts, body))
	if err := Verify([]byte(secret), h, body, ts.Add(time.Minute), DefaultTolerance); err != nil {
		t.Fatalf("valid: %v", err)
	}
	if err := Verify([]byte(secret), h, body, ts.Add(time.Hour), DefaultTolerance); err == nil || !strings.Contains(err.Error(), "tolerance") {
		t.Errorf("stale: %v", err)
	}
	if err := Verify([]byte(secret), h, []byte(`{"id":"y"}`), ts, DefaultTolerance); err != ErrBadSignature {
		t.Errorf("tampered: %v", err)
	}
}

// TestReceiverDownComesBack: while the receiver answers 503, events queue
// and the endpoint is probed once per backoff; when it recovers every
// event arrives, each acknowledged exactly once.
func TestReceiverDownComesBack(t *testing.T) {
	rcv := newReceiver(t, secret)
	rcv.status.Store(http.StatusServiceUnavailable)
	n, _ := newNotifier(t, filepath.Join(t.TempDir(), "out.db"),
		Endpoint{Name: "ci", URL: rcv.srv.URL, Secret: []byte(secret)})
	defer n.Close()

	const events = 40
	for i := range events {
		n.Publish(context.Background(), pushRecord(fmt.Sprintf("team/app%d", i), metadata.StatusAccepted))
	}
	waitFor(t, "several failed attempts", func() bool { _, r, _ := rcv.snapshot(); return r >= 8 })
	// Retried per event, the failing requests would carry ever more of the
	// 40 events; probed per endpoint, they carry the first burst's (at most
	// Concurrency) and then always the oldest event — whatever the timing.
	rcv.mu.Lock()
	tried := map[string]bool{}
	for _, k := range rcv.keys {
		tried[k] = true
	}
	requests := len(rcv.keys)
	rcv.mu.Unlock()
	if len(tried) > 4 {
		t.Errorf("%d requests to a receiver that is down carried %d different events: retries are not per endpoint", requests, len(tried))
	}
	if err := n.Check(context.Background()); err == nil {
		t.Error("readiness is not degraded while the endpoint fails")
	}
	rcv.status.Store(0)
	waitFor(t, "every event", func() bool { a, _, _ := rcv.snapshot(); return len(a) == events })
	waitFor(t, "the outbox to empty", func() bool { p, _, _ := n.Pending(); return p == 0 })
	acked, _, _ := rcv.snapshot()
	for id, c := range acked {
		if c != 1 {
			t.Errorf("event %s acknowledged %d times", id, c)
		}
	}
	if err := n.Check(context.Background()); err != nil {
		t.Errorf("readiness after recovery: %v", err)
	}
}

// TestReceiverRefusesConnections: nothing listens at the endpoint's
// address, then a receiver starts there; every event arrives once.
func TestReceiverRefusesConnections(t *testing.T) {
	addr := newDownAddr(t)
	n, _ := newNotifier(t, filepath.Join(t.TempDir(), "out.db"),
		Endpoint{Name: "ci", URL: "http://" + addr.String() + "/hook", Secret: []byte(secret)})
	defer n.Close()
	for i := range 10 {
		n.Publish(context.Background(), pushRecord(fmt.Sprintf("team/r%d", i), metadata.StatusRejected))
	}
	waitFor(t, "failed attempts", func() bool {
		return testutil.ToFloat64(n.metrics.deliveries.WithLabelValues("ci", outcomeRetry)) >= 2
	})
	rcv := newReceiverAt(t, addr, secret)
	waitFor(t, "every event", func() bool { a, _, _ := rcv.snapshot(); return len(a) == 10 })
	acked, _, _ := rcv.snapshot()
	for id, c := range acked {
		if c != 1 {
			t.Errorf("event %s acknowledged %d times", id, c)
		}
	}
}

// TestOutboxSurvivesRestart: events queued while the receiver is down are
// delivered by the next process that opens the outbox.
func TestOutboxSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.db")
	down := Endpoint{Name: "ci", URL: "http://" + newDownAddr(t).String() + "/", Secret: []byte(secret)}
	n1, _ := newNotifier(t, path, down)
	for i := range 5 {
		n1.Publish(context.Background(), pushRecord(fmt.Sprintf("team/s%d", i), metadata.StatusAccepted))
	}
	if err := n1.Close(); err != nil {
		t.Fatal(err)
	}

	rcv := newReceiver(t, secret)
	up := down
	up.URL = rcv.srv.URL // same name: queued deliveries follow
	n2, _ := newNotifier(t, path, up)
	defer n2.Close()
	waitFor(t, "the queued events", func() bool { a, _, _ := rcv.snapshot(); return len(a) == 5 })
	waitFor(t, "the outbox to empty", func() bool { p, _, _ := n2.Pending(); return p == 0 })
}

// TestTimeoutRedeliversSameID: a receiver that does not answer in time
// gets the event again, with the same id and idempotency key.
func TestTimeoutRedeliversSameID(t *testing.T) {
	rcv := newReceiver(t, secret)
	rcv.hold.Store(true)
	n, _ := newNotifier(t, filepath.Join(t.TempDir(), "out.db"),
		Endpoint{Name: "slow", URL: rcv.srv.URL, Secret: []byte(secret), Timeout: 50 * time.Millisecond})
	defer n.Close()
	n.Publish(context.Background(), pushRecord("team/app", metadata.StatusAccepted))
	waitFor(t, "a timed-out attempt", func() bool {
		return testutil.ToFloat64(n.metrics.deliveries.WithLabelValues("slow", outcomeRetry)) >= 1
	})
	rcv.hold.Store(false)
	waitFor(t, "the delivery", func() bool { a, _, _ := rcv.snapshot(); return len(a) == 1 })
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	for _, k := range rcv.keys {
		if k != rcv.keys[0] {
			t.Fatalf("idempotency keys differ between attempts: %v", rcv.keys)
		}
	}
	if len(rcv.keys) < 2 {
		t.Fatalf("expected a redelivery, got %d requests", len(rcv.keys))
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	rcv := newReceiver(t, secret)
	rcv.status.Store(http.StatusInternalServerError)
	n, err := New(Options{Endpoints: []Endpoint{{Name: "ci", URL: rcv.srv.URL, Secret: []byte(secret)}},
		OutboxPath: filepath.Join(t.TempDir(), "out.db"), MaxAttempts: 3, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	n.Publish(context.Background(), pushRecord("team/app", metadata.StatusAccepted))
	waitFor(t, "a dead letter", func() bool { _, d, _ := n.Pending(); return d == 1 })
	if _, r, _ := rcv.snapshot(); r != 3 {
		t.Errorf("%d requests, want 3 attempts", r)
	}
	if p, _, _ := n.Pending(); p != 0 {
		t.Errorf("%d still pending", p)
	}
}

func TestFilters(t *testing.T) {
	all := newReceiver(t, secret)
	prodRejects := newReceiver(t, secret)
	n, _ := newNotifier(t, filepath.Join(t.TempDir(), "out.db"),
		Endpoint{Name: "all", URL: all.srv.URL, Secret: []byte(secret)},
		Endpoint{Name: "prod", URL: prodRejects.srv.URL, Secret: []byte(secret),
			Events: []Type{PushRejected, UploadFailed}, Repositories: []string{"prod/**"}})
	defer n.Close()
	ctx := context.Background()
	n.Publish(ctx, pushRecord("prod/api", metadata.StatusAccepted))                         // all
	n.Publish(ctx, pushRecord("prod/api", metadata.StatusRejected))                         // all, prod
	n.Publish(ctx, pushRecord("dev/api", metadata.StatusRejected))                          // all
	n.Publish(ctx, pushRecord("prod/api", metadata.StatusPending))                          // nobody: not final
	n.Scanned(ctx, pushRecord("prod/api", metadata.StatusPending))                          // all
	n.UploadFailed(ctx, UploadFailure{UploadID: "u1", Reason: "bad"})                       // all (no repository)
	n.UploadFailed(ctx, UploadFailure{UploadID: "u2", Repository: "prod/x", Reason: "bad"}) // all, prod
	del := pushRecord("prod/api", metadata.StatusAccepted)
	del.Kind = metadata.KindDeleteTag
	n.Publish(ctx, del) // all
	waitFor(t, "deliveries", func() bool {
		a, _, _ := all.snapshot()
		p, _, _ := prodRejects.snapshot()
		return len(a) == 7 && len(p) == 2
	})
	types := map[Type]int{}
	all.mu.Lock()
	for _, e := range all.events {
		types[e.Type]++
	}
	all.mu.Unlock()
	want := map[Type]int{PushAccepted: 1, PushRejected: 2, ScanCompleted: 1, UploadFailed: 2, DeleteAccepted: 1}
	for ty, c := range want {
		if types[ty] != c {
			t.Errorf("%s: %d events, want %d (all: %v)", ty, types[ty], c, types)
		}
	}
	prodRejects.mu.Lock()
	for _, e := range prodRejects.events {
		if e.Data.Repository != "prod/api" && e.Data.Repository != "prod/x" {
			t.Errorf("prod endpoint got %+v", e)
		}
	}
	prodRejects.mu.Unlock()
}

func TestDroppedEndpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.db")
	n1, _ := newNotifier(t, path, Endpoint{Name: "old", URL: "http://" + newDownAddr(t).String() + "/"})
	n1.Publish(context.Background(), pushRecord("team/app", metadata.StatusAccepted))
	n1.Close()
	rcv := newReceiver(t, "")
	n2, _ := newNotifier(t, path, Endpoint{Name: "new", URL: rcv.srv.URL})
	defer n2.Close()
	waitFor(t, "the orphan to be buried", func() bool { p, d, _ := n2.Pending(); return p == 0 && d == 1 })
}

func TestNilAndEmptyNotifierAreNoOps(t *testing.T) {
	var n *Notifier
	n.Publish(context.Background(), pushRecord("a", metadata.StatusAccepted))
	n.UploadFailed(context.Background(), UploadFailure{})
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e, err := New(Options{OutboxPath: filepath.Join(dir, "out.db")})
	if err != nil {
		t.Fatal(err)
	}
	e.Publish(context.Background(), pushRecord("a", metadata.StatusAccepted))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
		t.Errorf("a notifier without endpoints created %v", m)
	}
}

// TestCloseInterruptsRequestsInFlight: Close does not wait for a receiver
// that holds a request (up to the endpoint's timeout); the interrupted
// delivery stays queued and the next process delivers it.
func TestCloseInterruptsRequestsInFlight(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.db")
	rcv := newReceiver(t, secret)
	rcv.hold.Store(true)
	ep := Endpoint{Name: "ci", URL: rcv.srv.URL, Secret: []byte(secret), Timeout: time.Hour}
	n1, _ := newNotifier(t, path, ep)
	n1.Publish(context.Background(), pushRecord("team/app", metadata.StatusAccepted))
	waitFor(t, "the request to arrive", func() bool { _, r, _ := rcv.snapshot(); return r == 1 })
	closed := make(chan error, 1)
	go func() { closed <- n1.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		rcv.srv.CloseClientConnections() // so that the test ends
		t.Fatal("Close waits for the request in flight instead of interrupting it")
	}

	if err := n1.Close(); err != nil { // a second Close is harmless
		t.Fatalf("second Close: %v", err)
	}

	rcv.hold.Store(false)
	n2, _ := newNotifier(t, path, ep)
	defer n2.Close()
	waitFor(t, "the interrupted event", func() bool { a, _, _ := rcv.snapshot(); return len(a) == 1 })
	waitFor(t, "the outbox to empty", func() bool { p, _, _ := n2.Pending(); return p == 0 })
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLogsHideURLCredentials: a failed delivery is logged with the
// endpoint's scheme and host only — not the user info, path or query,
// where webhook URLs carry their tokens — and so is its last error in the
// dead letters.
func TestLogsHideURLCredentials(t *testing.T) {
	var logs syncBuffer
	addr := newDownAddr(t)
	n, err := New(Options{
		Endpoints:  []Endpoint{{Name: "chat", URL: "http://user:pw-secret@" + addr.String() + "/services/T0/path-secret?token=query-secret"}},
		OutboxPath: filepath.Join(t.TempDir(), "out.db"), MaxAttempts: 2, MinBackoff: time.Millisecond,
		MaxBackoff: 2 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	n.Publish(context.Background(), pushRecord("team/app", metadata.StatusAccepted))
	waitFor(t, "a dead letter", func() bool { _, d, _ := n.Pending(); return d == 1 })
	dead, err := n.DeadLetters(context.Background(), "", 10)
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead letters: %v, %v", dead, err)
	}
	got := logs.String() + "\n" + dead[0].LastError
	if !strings.Contains(got, "http://"+addr.String()+"/…") {
		t.Errorf("the endpoint's host is not named:\n%s", got)
	}
	for _, s := range []string{"pw-secret", "path-secret", "query-secret"} {
		if strings.Contains(got, s) {
			t.Errorf("%s is in the logs or the dead letter:\n%s", s, got)
		}
	}
}

// TestBacklogBound: while an endpoint is down, at most MaxPending of its
// deliveries wait; the events beyond are dropped and counted as lost, and
// the ones kept are delivered once it is back.
func TestBacklogBound(t *testing.T) {
	addr := newDownAddr(t)
	n, err := New(Options{
		Endpoints:  []Endpoint{{Name: "down", URL: "http://" + addr.String(), Secret: []byte(secret)}},
		OutboxPath: filepath.Join(t.TempDir(), "out.db"), MaxAttempts: 1000,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Concurrency: 1, Timeout: time.Second, MaxPending: 3, Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for range 5 {
		n.Publish(context.Background(), pushRecord("team/app", metadata.StatusAccepted))
	}
	if pending, _, err := n.Pending(); err != nil || pending != 3 {
		t.Fatalf("pending %d (%v), want the bound, 3", pending, err)
	}
	if lost := testutil.ToFloat64(n.metrics.lost.WithLabelValues(PushAccepted.Short())); lost != 2 {
		t.Fatalf("lost_total %v, want 2", lost)
	}

	rcv := newReceiverAt(t, addr, secret)
	waitFor(t, "the kept events", func() bool { a, _, _ := rcv.snapshot(); return len(a) == 3 })
	waitFor(t, "room in the backlog", func() bool { return n.queue.size("down") == 0 })
	n.Publish(context.Background(), pushRecord("team/app", metadata.StatusAccepted))
	waitFor(t, "an event after the backlog drained", func() bool { a, _, _ := rcv.snapshot(); return len(a) == 4 })
}
