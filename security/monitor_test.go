package security

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imagegate/imagegate/fleet"
)

// TestConcurrentReplicasRaiseOneAlert: two monitors sharing a store see a
// spray at the same time, from many goroutines; the counts are shared and
// compare-and-swap lets exactly one of them raise the incident.
func TestConcurrentReplicasRaiseOneAlert(t *testing.T) {
	c, store := newClock(), fleet.NewMemory(0)
	cfg := testConfig()
	cfg.PasswordSpraying.Threshold = 20
	cfg.BruteForce.Threshold = 0
	rigs := []*rig{newRig(t, store, cfg, c), newRig(t, store, cfg, c)}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() { rigs[i%2].m.LoginFailed(context.Background(), fmt.Sprintf("user%d", i), "203.0.113.7") })
	}
	wg.Wait()
	total := 0
	for _, r := range rigs {
		r.m.Flush()
		total += r.detections(PasswordSpraying)
		if n := testutil.ToFloat64(r.m.metrics.dropped); n != 0 {
			t.Fatalf("%v events dropped", n)
		}
	}
	if total != 1 {
		t.Fatalf("%d spraying alerts over both replicas, want 1", total)
	}
}

// blockingStore is a store whose reads wait until released, or fail.
type blockingStore struct {
	fleet.Store
	entered chan struct{}
	release chan struct{}
	err     error
}

func (b *blockingStore) Get(ctx context.Context, space, key string) (fleet.Item, error) {
	if b.err != nil {
		return fleet.Item{}, b.err
	}
	b.entered <- struct{}{}
	<-b.release
	return b.Store.Get(ctx, space, key)
}

// TestEventsNeverWait: with the only worker stuck on a slow store and the
// queue full, an event returns at once and is dropped and counted.
func TestEventsNeverWait(t *testing.T) {
	store := &blockingStore{Store: fleet.NewMemory(0), entered: make(chan struct{}, 1), release: make(chan struct{})}
	cfg := testConfig()
	cfg.QueueSize, cfg.Workers = 1, 1
	r := newRig(t, store, cfg, newClock())
	ctx := context.Background()
	r.m.TokenUsed(ctx, "jti:1", "alice", "192.0.2.1") // taken by the worker, stuck in Get
	<-store.entered
	r.m.TokenUsed(ctx, "jti:1", "alice", "192.0.2.2") // fills the queue
	done := make(chan struct{})
	go func() {
		r.m.TokenUsed(ctx, "jti:1", "alice", "192.0.2.3") // no room: dropped
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("an event waited for the detectors")
	}
	if n := testutil.ToFloat64(r.m.metrics.dropped); n != 1 {
		t.Fatalf("dropped = %v, want 1", n)
	}
	close(store.release)
	r.m.Flush()
	if n := r.detections(TokenAddresses); n != 0 {
		t.Fatalf("a dropped event was counted: %d alerts", n)
	}
}

// TestStoreErrorsAreCountedNotRaised: a failing store loses the event,
// counts and logs the error, and raises nothing.
func TestStoreErrorsAreCountedNotRaised(t *testing.T) {
	store := &blockingStore{Store: fleet.NewMemory(0), err: errors.New("store down")}
	r := newRig(t, store, testConfig(), newClock())
	for i := range 10 {
		r.m.LoginFailed(context.Background(), fmt.Sprintf("u%d", i), "203.0.113.7")
	}
	r.m.Flush()
	if n := testutil.ToFloat64(r.m.metrics.errors); n != 10 {
		t.Fatalf("store errors = %v, want 10", n)
	}
	if len(r.alerts.all()) != 0 {
		t.Fatal("an alert was raised without counts")
	}
}

// TestClosedAndNilMonitorsIgnoreEvents: events after Close, and on a nil
// Monitor, are ignored without panicking.
func TestClosedAndNilMonitorsIgnoreEvents(t *testing.T) {
	r := newRig(t, fleet.NewMemory(0), testConfig(), newClock())
	r.m.Close()
	r.m.LoginFailed(context.Background(), "a", "192.0.2.1")
	r.m.Flush()
	var m *Monitor
	m.LoginFailed(context.Background(), "a", "192.0.2.1")
	m.TokenUsed(context.Background(), "jti:1", "a", "192.0.2.1")
	m.RepositoryRead(context.Background(), "robot$x", "robot", "r", "192.0.2.1")
	m.PushFinished(context.Background(), pushRecord("a", "r", "accepted"))
	m.VulnerableLayers(context.Background(), pushRecord("a", "r", "rejected"), nil)
	m.Flush()
	m.Close()
}

// TestRefusedLayersAreBounded: past vulnerablelayers.maxlayers the oldest
// refused layers are forgotten, so the state stays bounded.
func TestRefusedLayersAreBounded(t *testing.T) {
	cfg := testConfig()
	cfg.VulnerableLayers.MaxLayers = layerShards // one per shard
	c := newClock()
	r := newRig(t, fleet.NewMemory(0), cfg, c)
	ctx := context.Background()
	// Two layers of the same shard: the second pushes the first out.
	first, second := sameShardDigests(t)
	r.m.VulnerableLayers(ctx, pushRecord("ci", "prod/a", "rejected"), layersOf(first))
	r.m.Flush()
	c.advance(time.Second)
	r.m.VulnerableLayers(ctx, pushRecord("ci", "prod/b", "rejected"), layersOf(second))
	r.m.Flush()
	r.m.PushFinished(ctx, pushRecord("dev", "sandbox/a", "accepted", first))
	r.m.Flush()
	if n := r.detections(VulnerableLayer); n != 0 {
		t.Fatalf("a forgotten layer raised %d alerts", n)
	}
	r.m.PushFinished(ctx, pushRecord("dev", "sandbox/b", "accepted", second))
	r.m.Flush()
	if n := r.detections(VulnerableLayer); n != 1 {
		t.Fatalf("a remembered layer raised %d alerts, want 1", n)
	}
}

func layersOf(ds ...digest.Digest) []digest.Digest { return ds }

// sameShardDigests returns two layer digests kept in the same shard.
func sameShardDigests(t *testing.T) (digest.Digest, digest.Digest) {
	t.Helper()
	seen := map[string]digest.Digest{}
	for i := range 10000 {
		d := digest.FromString(fmt.Sprint("layer ", i))
		if prev, ok := seen[shardKey(string(d))]; ok {
			return prev, d
		}
		seen[shardKey(string(d))] = d
	}
	t.Fatal("no two digests share a shard")
	return "", ""
}
