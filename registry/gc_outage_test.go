package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/gc"
)

// errFleetDown is the fault outageFleet answers with.
var errFleetDown = errors.New("fleet (fake): connection refused")

// outageFleet is a fake for a fault: a fleet store whose garbage
// collection spaces (gc-*) fail every call while down is set, as the
// metadata database does during an outage; the other spaces (tag locks,
// leases of other jobs) keep working, so that the failures the tests see
// are the collection's own.
type outageFleet struct {
	fleet.Store
	down atomic.Bool
}

func (f *outageFleet) fails(space string) bool {
	return f.down.Load() && strings.HasPrefix(space, "gc-")
}

func (f *outageFleet) Get(ctx context.Context, space, key string) (fleet.Item, error) {
	if f.fails(space) {
		return fleet.Item{}, errFleetDown
	}
	return f.Store.Get(ctx, space, key)
}

func (f *outageFleet) Put(ctx context.Context, space, key string, value []byte, expect int64, ttl time.Duration) (int64, error) {
	if f.fails(space) {
		return 0, errFleetDown
	}
	return f.Store.Put(ctx, space, key, value, expect, ttl)
}

func (f *outageFleet) Delete(ctx context.Context, space, key string, expect int64) error {
	if f.fails(space) {
		return errFleetDown
	}
	return f.Store.Delete(ctx, space, key, expect)
}

func (f *outageFleet) List(ctx context.Context, space, after string, limit int) ([]fleet.Item, error) {
	if f.fails(space) {
		return nil, errFleetDown
	}
	return f.Store.List(ctx, space, after, limit)
}

// startOutageServer runs a collecting server over store with
// metadata.failmode failMode.
func startOutageServer(t *testing.T, store fleet.Store, clk *gcClock, failMode string) *gcServer {
	t.Helper()
	g := &gcServer{}
	g.testServer = startServer(t, func(c *config.Config) { c.Metadata.FailMode = failMode },
		WithFleet(store), WithGCClock(clk.now), WithGCHooks(func(c *gc.Collector, f *gc.Fence) { g.collector, g.fence = c, f }))
	return g
}

// TestGCOutageFailOpen: while the fleet store is down, under fail-open,
// blob uploads and a manifest PUT are accepted (the touches are best
// effort; the manifest leaves a not-indexed marker in storage) and no
// pass can run. Once the store is back, the next pass indexes the
// manifest first: its blobs, all older than the grace period by then,
// stay and the image pulls completely, while real garbage goes; the
// marker is gone.
func TestGCOutageFailOpen(t *testing.T) {
	clk := &gcClock{}
	store := &outageFleet{Store: fleet.NewMemory(0)}
	g := startOutageServer(t, store, clk, "open")
	g.backfill(t)
	junk := garbageBlob(t, g, "team/app")

	store.down.Store(true)
	img, _ := random.Image(512, 2)
	if err := pushImage(t, g, "team/app", "v1", img); err != nil {
		t.Fatalf("push during the outage (fail-open): %v", err)
	}
	markers, _, err := gc.NewUnindexed(g.driver).List(t.Context(), 10)
	d, _ := img.Digest()
	if err != nil || len(markers) != 1 || markers[0].Manifest.String() != d.String() || markers[0].Repository != "team/app" {
		t.Fatalf("not-indexed markers after the outage push: %+v, %v", markers, err)
	}
	// No pass can run: its lease is in the store that is down.
	if status, _, body := do(t, http.MethodPost, g.base+"/api/v1/gc/run", nil, nil); status != http.StatusServiceUnavailable || !strings.Contains(string(body), "fleet store") {
		t.Fatalf("a pass during the outage: %d %s", status, body)
	}
	if _, err := g.collector.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "taking the lease") {
		t.Fatalf("a pass during the outage: %v, want the lease refused", err)
	}

	store.down.Store(false)
	clk.advance(pastGrace)
	res := runGC(t, g)
	if res.Blobs != 1 || blobStored(t, g, digestOf(junk)) {
		t.Fatalf("pass after the outage: %+v; junk stored: %v", res, blobStored(t, g, digestOf(junk)))
	}
	pullVerified(t, g, "team/app", "v1")
	if ok, err := g.collector.Refs().Has(t.Context(), "team/app", digest.Digest(d.String())); !ok || err != nil {
		t.Fatalf("the outage push is not indexed after the pass: %v %v", ok, err)
	}
	if markers, _, _ := gc.NewUnindexed(g.driver).List(t.Context(), 10); len(markers) != 0 {
		t.Fatalf("markers left after the pass: %+v", markers)
	}
}

// TestGCOutageMarkerBlocksDeletion: a marker whose manifest is not stored
// yet (its push may be storing it) stops every deletion — the plan says
// why, a run answers 503 — until it is older than a push may take
// (gc.InFlight); then the pass clears it and collects. The backfill
// resolves markers too.
func TestGCOutageMarkerBlocksDeletion(t *testing.T) {
	clk := &gcClock{}
	g := startOutageServer(t, fleet.NewMemory(0), clk, "open")
	g.backfill(t)
	junk := garbageBlob(t, g, "team/app")
	clk.advance(pastGrace)
	inFlight := digest.FromString("a manifest being stored")
	u := gc.NewUnindexed(g.driver)
	if err := u.Mark(t.Context(), "team/app", inFlight, clk.now()); err != nil {
		t.Fatal(err)
	}
	status, _, body := do(t, http.MethodPost, g.base+"/api/v1/gc/run", nil, nil)
	if status != http.StatusServiceUnavailable || !strings.Contains(string(body), "metadata store outage") {
		t.Fatalf("run with a marker: %d %s", status, body)
	}
	if !blobStored(t, g, digestOf(junk)) {
		t.Fatal("a blob was deleted while a manifest was not indexed")
	}
	status, _, body = do(t, http.MethodGet, g.base+"/api/v1/gc/plan", nil, nil)
	if status != http.StatusOK || !strings.Contains(string(body), `"unindexed_manifests": 1`) || !strings.Contains(string(body), `"blocked": "garbage collection deletes nothing while manifests pushed during a metadata store outage`) {
		t.Fatalf("plan with a marker: %d %s", status, body)
	}
	status, _, body = do(t, http.MethodPost, g.base+"/api/v1/gc/backfill", nil, nil)
	if status != http.StatusOK || !strings.Contains(string(body), `"unindexed_left": 1`) {
		t.Fatalf("backfill with a young marker: %d %s", status, body)
	}

	clk.advance(gc.InFlight + time.Second)
	res := runGC(t, g)
	if res.Blobs != 1 || blobStored(t, g, digestOf(junk)) {
		t.Fatalf("pass once the marker aged: %+v", res)
	}
	if ms, _, _ := u.List(t.Context(), 10); len(ms) != 0 {
		t.Fatalf("the aged marker of a manifest never stored is left: %+v", ms)
	}
}

// TestGCOutageFailClosed: while the fleet store is down, under
// fail-closed, blob uploads still complete (their touch is best effort),
// a manifest PUT is refused 503 with the metadata store's wording and
// tags nothing, and so is a manifest DELETE (it cannot be fenced).
func TestGCOutageFailClosed(t *testing.T) {
	clk := &gcClock{}
	store := &outageFleet{Store: fleet.NewMemory(0)}
	g := startOutageServer(t, store, clk, "closed")
	kept, _ := random.Image(256, 1)
	if err := pushImage(t, g, "team/app", "kept", kept); err != nil {
		t.Fatal(err)
	}

	store.down.Store(true)
	garbageBlob(t, g, "team/app") // fails the test unless the upload completes
	img, _ := random.Image(512, 2)
	err := pushImage(t, g, "team/app", "v1", img)
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "metadata store unreachable") {
		t.Fatalf("push during the outage (fail-closed): %v, want 503 metadata store unreachable", err)
	}
	ref, _ := name.ParseReference(g.host()+"/team/app:v1", name.Insecure)
	if _, err := remote.Head(ref); !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
		t.Fatalf("the refused push is tagged: %v", err)
	}
	if ms, _, _ := gc.NewUnindexed(g.driver).List(t.Context(), 10); len(ms) != 0 {
		t.Fatalf("fail-closed left markers: %+v", ms)
	}
	kd, _ := kept.Digest()
	status, _, body := do(t, http.MethodDelete, g.base+"/v2/team/app/manifests/"+kd.String(), nil, nil)
	if status != http.StatusServiceUnavailable || !strings.Contains(string(body), "metadata store unreachable") {
		t.Fatalf("delete during the outage: %d %s", status, body)
	}

	store.down.Store(false)
	if err := pushImage(t, g, "team/app", "v1", img); err != nil {
		t.Fatalf("push after the outage: %v", err)
	}
	pullVerified(t, g, "team/app", "kept")
}
