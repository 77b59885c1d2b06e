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

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/gc"
)

// hangingFleet is a fake for a fault a real server cannot produce on
// demand: a fleet store whose garbage collection spaces (gc-*) neither
// answer nor refuse while hang is set — every call blocks until its
// context ends, as a call on a connection whose peer went silent does.
// The other spaces keep working, so what the tests see is the fence's.
type hangingFleet struct {
	fleet.Store
	hang atomic.Bool
}

// wait blocks a gc call until ctx ends while hanging; false: not hanging.
func (f *hangingFleet) wait(ctx context.Context, space string) (bool, error) {
	if !f.hang.Load() || !strings.HasPrefix(space, "gc-") {
		return false, nil
	}
	<-ctx.Done()
	return true, ctx.Err()
}

func (f *hangingFleet) Get(ctx context.Context, space, key string) (fleet.Item, error) {
	if hung, err := f.wait(ctx, space); hung {
		return fleet.Item{}, err
	}
	return f.Store.Get(ctx, space, key)
}

func (f *hangingFleet) Put(ctx context.Context, space, key string, value []byte, expect int64, ttl time.Duration) (int64, error) {
	if hung, err := f.wait(ctx, space); hung {
		return 0, err
	}
	return f.Store.Put(ctx, space, key, value, expect, ttl)
}

func (f *hangingFleet) Delete(ctx context.Context, space, key string, expect int64) error {
	if hung, err := f.wait(ctx, space); hung {
		return err
	}
	return f.Store.Delete(ctx, space, key, expect)
}

func (f *hangingFleet) List(ctx context.Context, space, after string, limit int) ([]fleet.Item, error) {
	if hung, err := f.wait(ctx, space); hung {
		return nil, err
	}
	return f.Store.List(ctx, space, after, limit)
}

// hangBound is the fence's call and blob-touch bound in these tests; the
// client gives up after hangDeadline, far beyond what a bounded fence
// takes (a few bounds) and far below the commit's 2 minutes.
const (
	hangBound    = 300 * time.Millisecond
	hangDeadline = 30 * time.Second
)

// startHangingServer runs a collecting server over store, with
// metadata.failmode failMode and the fence bounded by hangBound.
func startHangingServer(t *testing.T, store *hangingFleet, failMode string) *gcServer {
	t.Helper()
	g := &gcServer{}
	g.testServer = startServer(t, func(c *config.Config) { c.Metadata.FailMode = failMode },
		WithFleet(store), WithGCFenceTimeouts(hangBound, hangBound),
		WithGCHooks(func(c *gc.Collector, f *gc.Fence) { g.collector, g.fence = c, f }))
	return g
}

// pushWithin pushes a random image to repo:tag, the client giving up after
// hangDeadline; it returns how long the push took and its error.
func pushWithin(t *testing.T, g *gcServer, repo, tag string) (time.Duration, error) {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), hangDeadline)
	defer cancel()
	ref, _ := name.ParseReference(g.host()+"/"+repo+":"+tag, name.Insecure)
	start := time.Now()
	err = remote.Write(ref, img, remote.WithContext(ctx))
	if ctx.Err() != nil {
		t.Fatalf("the push was still waiting on the hanging fleet store after %s: %v", hangDeadline, err)
	}
	return time.Since(start), err
}

// TestGCHangingStoreFailOpen: a fleet store that hangs (rather than
// refusing) delays a push under fail-open by the fence's bounds only: the
// blob uploads go on after their best-effort touch, the manifest is
// stored with a not-indexed marker. Without the bounds the push waits
// until the client gives up.
func TestGCHangingStoreFailOpen(t *testing.T) {
	store := &hangingFleet{Store: fleet.NewMemory(0)}
	g := startHangingServer(t, store, "open")
	store.hang.Store(true)
	took, err := pushWithin(t, g, "team/app", "v1")
	if err != nil {
		t.Fatalf("push while the fleet store hangs (fail-open): %v", err)
	}
	t.Logf("push while the fleet store hangs: %s (bounds %s)", took, hangBound)
	markers, _, err := gc.NewUnindexed(g.driver).List(t.Context(), 10)
	if err != nil || len(markers) != 1 || markers[0].Repository != "team/app" {
		t.Fatalf("not-indexed markers after the push: %+v, %v", markers, err)
	}
	store.hang.Store(false)
	pullVerified(t, g, "team/app", "v1")
}

// TestGCHangingStoreFailClosed: under fail-closed the same push is refused
// 503 with the metadata store's wording once the fence's bound passes,
// and a manifest DELETE (its tombstone cannot be written) is refused too;
// neither waits for the client to give up.
func TestGCHangingStoreFailClosed(t *testing.T) {
	store := &hangingFleet{Store: fleet.NewMemory(0)}
	g := startHangingServer(t, store, "closed")
	kept, _ := random.Image(256, 1)
	if err := pushImage(t, g, "team/app", "kept", kept); err != nil {
		t.Fatal(err)
	}
	store.hang.Store(true)
	took, err := pushWithin(t, g, "team/app", "v1")
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "metadata store unreachable") {
		t.Fatalf("push while the fleet store hangs (fail-closed): %v, want 503 metadata store unreachable", err)
	}
	t.Logf("refused push while the fleet store hangs: %s (bounds %s)", took, hangBound)

	kd, _ := kept.Digest()
	ctx, cancel := context.WithTimeout(t.Context(), hangDeadline)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, g.base+"/v2/team/app/manifests/"+kd.String(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("delete while the fleet store hangs: %v (still waiting after %s?)", err, hangDeadline)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("delete while the fleet store hangs: %d, want 503", resp.StatusCode)
	}
	store.hang.Store(false)
	pullVerified(t, g, "team/app", "kept")
}
