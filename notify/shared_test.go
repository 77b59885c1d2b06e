package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/metadata"
)

// cutStore is a fault-injection fake around the real shared store: a
// replica's link to it, which a test cuts, as when the replica's process
// dies or is partitioned away. While cut, every call fails.
type cutStore struct {
	fleet.Store
	cut atomic.Bool
}

var errCut = errors.New("shared store unreachable (injected)")

func (c *cutStore) Get(ctx context.Context, space, key string) (fleet.Item, error) {
	if c.cut.Load() {
		return fleet.Item{}, errCut
	}
	return c.Store.Get(ctx, space, key)
}

func (c *cutStore) Put(ctx context.Context, space, key string, v []byte, expect int64, ttl time.Duration) (int64, error) {
	if c.cut.Load() {
		return 0, errCut
	}
	return c.Store.Put(ctx, space, key, v, expect, ttl)
}

func (c *cutStore) Delete(ctx context.Context, space, key string, expect int64) error {
	if c.cut.Load() {
		return errCut
	}
	return c.Store.Delete(ctx, space, key, expect)
}

func (c *cutStore) List(ctx context.Context, space, after string, limit int) ([]fleet.Item, error) {
	if c.cut.Load() {
		return nil, errCut
	}
	return c.Store.List(ctx, space, after, limit)
}

// newReplica is a notifier sharing store with the other replicas of a test.
func newReplica(t *testing.T, store fleet.Store, owner string, lease time.Duration, maxAttempts int, eps ...Endpoint) *Notifier {
	t.Helper()
	n, err := New(Options{
		Endpoints: eps, Shared: store, Owner: owner, Lease: lease, Source: "https://registry.test",
		MaxAttempts: maxAttempts, MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
		Concurrency: 4, Timeout: 2 * time.Second, Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// cuttableReplica starts replica A on a link to a new shared store that
// the test can cut, for a receiver answering 503 until told otherwise. A
// sends to the endpoint at pathA (the receiver can refuse A's requests,
// late ones included: receiver.refuse); the endpoint returned, of the
// same name, is the receiver's root, for the other replicas.
func cuttableReplica(t *testing.T, lease time.Duration) (*fleet.Memory, *receiver, Endpoint, *cutStore, *Notifier) {
	mem := fleet.NewMemory(0)
	rcv := newReceiver(t, secret)
	rcv.status.Store(http.StatusServiceUnavailable)
	ep := Endpoint{Name: "ci", URL: rcv.srv.URL, Secret: []byte(secret)}
	epA := ep
	epA.URL += pathA
	link := &cutStore{Store: mem}
	return mem, rcv, ep, link, newReplica(t, link, "replica-a", lease, 1000, epA)
}

// pathA is the path of replica A's endpoint URL (cuttableReplica).
const pathA = "/replica-a"

// storedEvents lists the event ids of the deliveries waiting in the shared
// store, by shard.
func storedEvents(t *testing.T, mem fleet.Store) map[string][]string {
	t.Helper()
	items, err := mem.List(context.Background(), spacePending, "", fleet.MaxListLimit)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, it := range items {
		var d struct {
			EventID string `json:"event_id"`
		}
		if err := json.Unmarshal(it.Value, &d); err != nil {
			t.Fatal(err)
		}
		out[shardOf(it.Key)] = append(out[shardOf(it.Key)], d.EventID)
	}
	return out
}

// TestSharedDeadReplicasEventsDeliveredByAnother: replica A queues events
// while their receiver is down, then dies with its lease held (its link
// to the store cut, so it cannot release anything). Replica B leaves them
// alone while A's lease is live, then takes them over and delivers each
// once, with the idempotency key A's attempts carried; A's emptied shard
// is deleted.
func TestSharedDeadReplicasEventsDeliveredByAnother(t *testing.T) {
	const lease = 600 * time.Millisecond
	mem, rcv, ep, linkA, a := cuttableReplica(t, lease)
	// A is answered 503 whatever comes later: a request it sent before it
	// died may reach the receiver's handler any time after (on a loaded
	// machine, after B's deliveries began), and must not count as one.
	rcv.refuse(pathA)
	for i := range 5 {
		a.Publish(context.Background(), pushRecord(fmt.Sprintf("team/a%d", i), metadata.StatusAccepted))
	}
	waitFor(t, "A's failed attempts", func() bool { _, r, _ := rcv.snapshot(); return r >= 2 })
	queued := storedEvents(t, mem)
	if len(queued) != 1 {
		t.Fatalf("A's events are in %d shards, want its one: %v", len(queued), queued)
	}
	var shardA string
	var ids []string
	for s, evs := range queued {
		shardA, ids = s, evs
	}
	if len(ids) != 5 {
		t.Fatalf("%d events in the shared outbox, want 5", len(ids))
	}

	linkA.cut.Store(true) // A dies
	if err := a.Close(); err == nil {
		t.Error("A released its lease through a cut link")
	}
	rcv.status.Store(0)
	b := newReplica(t, mem, "replica-b", lease, 1000, ep)
	defer b.Close()
	if _, err := mem.Get(context.Background(), spaceLeases, shardA); err == nil {
		if acked, _, _ := rcv.snapshot(); len(acked) != 0 {
			t.Fatalf("B delivered %d of A's events while A's lease was live", len(acked))
		}
	}
	waitFor(t, "A's events delivered by B", func() bool { acked, _, _ := rcv.snapshot(); return len(acked) == 5 })
	acked, _, _ := rcv.snapshot()
	for _, id := range ids {
		if acked[id] != 1 {
			t.Errorf("event %s acknowledged %d times, want once", id, acked[id])
		}
	}
	rcv.mu.Lock()
	for _, k := range rcv.keys {
		if acked[k] == 0 {
			t.Errorf("a request carried idempotency key %q, not one of the events", k)
		}
	}
	rcv.mu.Unlock()
	waitFor(t, "the shared outbox to empty and A's shard to go", func() bool {
		p, _, _ := b.Pending()
		_, err := mem.Get(context.Background(), spaceShards, shardA)
		return p == 0 && len(storedEvents(t, mem)) == 0 && errors.Is(err, fleet.ErrNotFound)
	})
}

// TestSharedReplicasNeverDeliverTwice: two live replicas queue events for
// one receiver, down at first; neither sends the other's, so every event
// is acknowledged exactly once and no request is a duplicate.
func TestSharedReplicasNeverDeliverTwice(t *testing.T) {
	mem := fleet.NewMemory(0)
	rcv := newReceiver(t, secret)
	rcv.status.Store(http.StatusServiceUnavailable)
	ep := Endpoint{Name: "ci", URL: rcv.srv.URL, Secret: []byte(secret)}
	const lease = 300 * time.Millisecond // renewed many times during the test
	a := newReplica(t, mem, "replica-a", lease, 1000, ep)
	defer a.Close()
	b := newReplica(t, mem, "replica-b", lease, 1000, ep)
	defer b.Close()
	const each = 30
	for i := range each {
		a.Publish(context.Background(), pushRecord(fmt.Sprintf("team/a%d", i), metadata.StatusAccepted))
		b.Publish(context.Background(), pushRecord(fmt.Sprintf("team/b%d", i), metadata.StatusAccepted))
	}
	waitFor(t, "failed attempts from both", func() bool {
		return testutil.ToFloat64(a.metrics.deliveries.WithLabelValues("ci", outcomeRetry)) >= 2 &&
			testutil.ToFloat64(b.metrics.deliveries.WithLabelValues("ci", outcomeRetry)) >= 2
	})
	rcv.status.Store(0)
	waitFor(t, "every event", func() bool { acked, _, _ := rcv.snapshot(); return len(acked) == 2*each })
	waitFor(t, "both outboxes to empty", func() bool {
		pa, _, _ := a.Pending()
		pb, _, _ := b.Pending()
		return pa == 0 && pb == 0 && len(storedEvents(t, mem)) == 0
	})
	acked, _, _ := rcv.snapshot()
	for id, c := range acked {
		if c != 1 {
			t.Errorf("event %s acknowledged %d times", id, c)
		}
	}
	delivered := testutil.ToFloat64(a.metrics.deliveries.WithLabelValues("ci", outcomeDelivered)) +
		testutil.ToFloat64(b.metrics.deliveries.WithLabelValues("ci", outcomeDelivered))
	if delivered != 2*each {
		t.Errorf("%v successful deliveries counted by the replicas, want %d", delivered, 2*each)
	}
}

// TestSharedCleanCloseHandsOverAtOnce: a replica that shuts down releases
// its lease, so another takes its backlog over at its next round, without
// waiting for the lease to end (a minute here, beyond the test's wait).
func TestSharedCleanCloseHandsOverAtOnce(t *testing.T) {
	mem := fleet.NewMemory(0)
	addr := newDownAddr(t)
	down := Endpoint{Name: "ci", URL: "http://" + addr.String() + "/", Secret: []byte(secret)}
	a := newReplica(t, mem, "replica-a", time.Minute, 1000, down)
	for i := range 3 {
		a.Publish(context.Background(), pushRecord(fmt.Sprintf("team/a%d", i), metadata.StatusAccepted))
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	rcv := newReceiverAt(t, addr, secret)
	b, err := New(Options{Endpoints: []Endpoint{down}, Shared: mem, Owner: "replica-b", Lease: time.Minute,
		MinBackoff: 5 * time.Millisecond, MaxAttempts: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	waitFor(t, "A's events delivered by B", func() bool { acked, _, _ := rcv.snapshot(); return len(acked) == 3 })
}

// TestSharedPartitionedReplicaHandsOver: A loses the store for longer than
// its lease; B takes A's events over and delivers them. When A is back, it
// finds its lease taken, drops those events (no second delivery) and
// queues new events in a shard of its own.
func TestSharedPartitionedReplicaHandsOver(t *testing.T) {
	const lease = 300 * time.Millisecond
	mem, rcv, ep, linkA, a := cuttableReplica(t, lease)
	defer a.Close()
	for i := range 4 {
		a.Publish(context.Background(), pushRecord(fmt.Sprintf("team/a%d", i), metadata.StatusAccepted))
	}
	var shardA string
	var taken []string
	for s, ids := range storedEvents(t, mem) {
		shardA, taken = s, ids
	}
	// A's requests for the events B takes over are answered 503 whatever
	// comes later: one A sent under its lease may reach the receiver's
	// handler any time after (on a loaded machine, after B's deliveries
	// began), and must not count as a delivery.
	rcv.refuse(pathA, taken...)
	linkA.cut.Store(true)
	b := newReplica(t, mem, "replica-b", lease, 1000, ep)
	defer b.Close()
	waitFor(t, "B to take A's shard over", func() bool {
		it, err := mem.Get(context.Background(), spaceLeases, shardA)
		return err == nil && string(it.Value) == "replica-b"
	})
	rcv.status.Store(0)
	waitFor(t, "A's events delivered", func() bool { acked, _, _ := rcv.snapshot(); return len(acked) == 4 })
	linkA.cut.Store(false)
	waitFor(t, "A to let go of the events B took", func() bool { p, _, _ := a.Pending(); return p == 0 })
	letGo := time.Now()
	a.Publish(context.Background(), pushRecord("team/after", metadata.StatusAccepted))
	waitFor(t, "A's new event", func() bool { acked, _, _ := rcv.snapshot(); return len(acked) == 5 })
	waitFor(t, "the shared outbox to empty", func() bool { return len(storedEvents(t, mem)) == 0 })
	acked, _, _ := rcv.snapshot()
	for id, c := range acked {
		if c != 1 {
			t.Errorf("event %s acknowledged %d times", id, c)
		}
	}
	for _, f := range rcv.refusalsAt(pathA) {
		if f.at.After(letGo) {
			t.Errorf("A sent event %s again after letting it go", f.eventID)
		}
	}
}

// TestSharedDeadLettersSeenByEveryReplica: a delivery A gives up is listed
// by B's DeadLetters, with its body, and counted by B's gauge.
func TestSharedDeadLettersSeenByEveryReplica(t *testing.T) {
	mem := fleet.NewMemory(0)
	rcv := newReceiver(t, secret)
	rcv.status.Store(http.StatusInternalServerError)
	ep := Endpoint{Name: "ci", URL: rcv.srv.URL, Secret: []byte(secret)}
	const lease = 300 * time.Millisecond
	a := newReplica(t, mem, "replica-a", lease, 2, ep)
	defer a.Close()
	b := newReplica(t, mem, "replica-b", lease, 2, ep)
	defer b.Close()
	a.Publish(context.Background(), pushRecord("team/app", metadata.StatusAccepted))
	waitFor(t, "A to give up", func() bool {
		return testutil.ToFloat64(a.metrics.deliveries.WithLabelValues("ci", outcomeDead)) == 1
	})
	for name, n := range map[string]*Notifier{"A": a, "B": b} {
		dead, err := n.DeadLetters(context.Background(), "", 10)
		if err != nil || len(dead) != 1 {
			t.Fatalf("%s: dead letters %v, %v", name, dead, err)
		}
		d := dead[0]
		if d.Endpoint != "ci" || d.Attempts != 2 || !strings.Contains(d.LastError, "500") ||
			!strings.Contains(string(d.Body), d.EventID) {
			t.Errorf("%s: dead letter %+v", name, d)
		}
		if more, err := n.DeadLetters(context.Background(), d.Cursor, 10); err != nil || len(more) != 0 {
			t.Errorf("%s: page after the last dead letter: %v, %v", name, more, err)
		}
	}
	waitFor(t, "B's dead gauge", func() bool { _, d, _ := b.Pending(); return d == 1 })
}

// TestSharedOversizedEventIsLost: an event too large for a shared-store
// item is refused (counted lost), not truncated.
func TestSharedOversizedEventIsLost(t *testing.T) {
	mem := fleet.NewMemory(0)
	rcv := newReceiver(t, secret)
	n := newReplica(t, mem, "replica-a", time.Minute, 3, Endpoint{Name: "ci", URL: rcv.srv.URL, Secret: []byte(secret)})
	defer n.Close()
	rec := pushRecord("team/app", metadata.StatusRejected)
	rec.Reason = strings.Repeat("x", fleet.MaxValueBytes)
	n.Publish(context.Background(), rec)
	if lost := testutil.ToFloat64(n.metrics.lost.WithLabelValues(PushRejected.Short())); lost != 1 {
		t.Fatalf("lost_total %v, want 1", lost)
	}
	if p, _, _ := n.Pending(); p != 0 || len(storedEvents(t, mem)) != 0 {
		t.Fatalf("an oversized event was queued (%d pending)", p)
	}
}
