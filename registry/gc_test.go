package registry

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/gc"
	"github.com/imagegate/imagegate/metadata"
)

// pastGrace is how far the tests move the clock to put everything
// stored so far beyond the default grace period (24 h).
const pastGrace = 48 * time.Hour

// imageWith is a random image with l as an extra layer.
func imageWith(t *testing.T, l v1.Layer) v1.Image {
	t.Helper()
	base, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// awaitWaiting returns the digest a writer waits on (the fence's
// "waiting" point); it fails the test when no writer waits within a
// minute — the protocol is not there — and lets the pass go on.
func awaitWaiting(t *testing.T, waiting <-chan digest.Digest) digest.Digest {
	t.Helper()
	select {
	case d := <-waiting:
		return d
	case <-time.After(time.Minute):
		t.Error("no writer waited on the collector's tombstone")
		return ""
	}
}

// runGC is one pass that must succeed.
func runGC(t *testing.T, g *gcServer) gc.Result {
	t.Helper()
	res, err := g.collector.Run(t.Context())
	if err != nil {
		t.Fatalf("gc pass: %v", err)
	}
	return res
}

// TestGCRefusesBeforeBackfill: nothing is deleted until the references
// index covers what was stored before it, and the refusal says so; the
// dry run still answers.
func TestGCRefusesBeforeBackfill(t *testing.T) {
	clk := &gcClock{}
	g := startGCServer(t, fleet.NewMemory(0), clk, gc.UntaggedKeep, gcBackends[0].storage(t))
	junk := garbageBlob(t, g, "team/app")
	clk.advance(pastGrace)
	status, _, body := do(t, http.MethodPost, g.base+"/api/v1/gc/run", nil, nil)
	if status != http.StatusServiceUnavailable || !strings.Contains(string(body), "backfill") {
		t.Fatalf("run before backfill: %d %s", status, body)
	}
	if !blobStored(t, g, digestOf(junk)) {
		t.Fatal("a blob was deleted before the backfill")
	}
	status, _, body = do(t, http.MethodGet, g.base+"/api/v1/gc/plan", nil, nil)
	if status != http.StatusOK || !strings.Contains(string(body), digestOf(junk).String()) || !strings.Contains(string(body), `"backfilled": false`) {
		t.Fatalf("plan before backfill: %d %s", status, body)
	}
	g.backfill(t)
	status, _, body = do(t, http.MethodPost, g.base+"/api/v1/gc/run", nil, nil)
	if status != http.StatusOK || blobStored(t, g, digestOf(junk)) {
		t.Fatalf("run after backfill: %d %s; junk stored: %v", status, body, blobStored(t, g, digestOf(junk)))
	}
}

// TestGCBackfillKeepsEarlierContent: an image whose references were never
// indexed (its entry removed, as for content pushed before the index
// existed) survives a pass once backfilled, and pulls completely.
func TestGCBackfillKeepsEarlierContent(t *testing.T) {
	clk := &gcClock{}
	g := startGCServer(t, fleet.NewMemory(0), clk, gc.UntaggedKeep, gcBackends[0].storage(t))
	img, _ := random.Image(512, 2)
	if err := pushImage(t, g, "team/old", "v1", img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if err := g.collector.Refs().Delete(t.Context(), "team/old", digest.Digest(d.String())); err != nil {
		t.Fatal(err)
	}
	g.backfill(t)
	clk.advance(pastGrace)
	res := runGC(t, g)
	if res.Blobs != 0 {
		t.Fatalf("deleted %d blobs of a backfilled image: %+v", res.Blobs, res)
	}
	pullVerified(t, g, "team/old", "v1")
}

// TestGCBlobPushedDuringSweep replays a blob uploaded (again) and its
// manifest PUT during a sweep that planned to delete the blob, at both
// orders of the protocol: the push touching before the collector's
// tombstone (the collector skips it), and after (the push waits for the
// collector, which deleted the blob, and is refused MANIFEST_BLOB_UNKNOWN;
// the client's retry uploads it again). Every accepted image pulls
// completely, and the garbage is gone after the grace period.
func TestGCBlobPushedDuringSweep(t *testing.T) { eachGCBackend(t, raceBlobPushedDuringSweep) }

func raceBlobPushedDuringSweep(t *testing.T, storage func(*config.Config)) {
	clk := &gcClock{}
	g := startGCServer(t, fleet.NewMemory(0), clk, gc.UntaggedKeep, storage)
	early := garbageBlob(t, g, "team/app")
	late := garbageBlob(t, g, "team/app")
	junk := garbageBlob(t, g, "team/app")
	g.backfill(t)
	clk.advance(pastGrace)

	waiting := fenceWaits(g)
	lateDone := make(chan error, 1)
	g.collector.SetHook(func(point, subject string) {
		switch {
		case point == "planned":
			// Before any tombstone: the push of early completes, touching it.
			if err := pushImage(t, g, "team/app", "early", imageWith(t, early)); err != nil {
				t.Errorf("push during the sweep (before the tombstone): %v", err)
			}
		case point == "checked" && subject == digestOf(late).String():
			// The collector decided to delete late; a push naming it now
			// must wait for the decision and then find the blob gone.
			go func() { lateDone <- pushImage(t, g, "team/app", "late", imageWith(t, late)) }()
			if d := awaitWaiting(t, waiting); d != "" && d.String() != digestOf(late).String() {
				t.Errorf("the push waited on %s, want %s", d, digestOf(late))
			}
		}
	})
	res := runGC(t, g)
	g.collector.SetHook(nil)
	err := <-lateDone
	if err == nil || !strings.Contains(err.Error(), "MANIFEST_BLOB_UNKNOWN") {
		t.Fatalf("push of a manifest whose blob the collector deleted meanwhile: %v, want MANIFEST_BLOB_UNKNOWN", err)
	}
	if !blobStored(t, g, digestOf(early)) || blobStored(t, g, digestOf(late)) || blobStored(t, g, digestOf(junk)) {
		t.Fatalf("after the pass: early stored %v (want true), late %v, junk %v (want false); %+v",
			blobStored(t, g, digestOf(early)), blobStored(t, g, digestOf(late)), blobStored(t, g, digestOf(junk)), res)
	}
	pullVerified(t, g, "team/app", "early")
	// The client retries: the blob is uploaded again, the push accepted.
	if err := pushImage(t, g, "team/app", "late", imageWith(t, late)); err != nil {
		t.Fatalf("retried push: %v", err)
	}
	pullVerified(t, g, "team/app", "late")
	clk.advance(pastGrace)
	runGC(t, g)
	pullVerified(t, g, "team/app", "early")
	pullVerified(t, g, "team/app", "late")
}

// TestGCMountDuringSweep replays a cross-repository mount of a blob the
// sweep planned to delete: mounted before the tombstone, the blob is
// kept (and the image pushed with it pulls); mounted after the collector
// decided, the mount waits and answers 202 (an upload to do) rather than
// 201 over a deleted blob.
func TestGCMountDuringSweep(t *testing.T) {
	eachGCBackend(t, func(t *testing.T, storage func(*config.Config)) { raceMountDuringSweep(t, storage, "&from=team/src") })
}

// TestGCAnonymousMountDuringSweep is TestGCMountDuringSweep for a mount
// that names no source repository (oci/blobs.go; administrators, or
// anyone without auth): it touches its blob before checking it exists,
// as distribution's mounts do through the guard.
func TestGCAnonymousMountDuringSweep(t *testing.T) {
	eachGCBackend(t, func(t *testing.T, storage func(*config.Config)) { raceMountDuringSweep(t, storage, "") })
}

// raceMountDuringSweep replays the mounts, with from the query's source
// ("&from=…", or "" for an anonymous mount).
func raceMountDuringSweep(t *testing.T, storage func(*config.Config), from string) {
	clk := &gcClock{}
	g := startGCServer(t, fleet.NewMemory(0), clk, gc.UntaggedKeep, storage)
	early := garbageBlob(t, g, "team/src")
	late := garbageBlob(t, g, "team/src")
	g.backfill(t)
	clk.advance(pastGrace)
	mount := func(l v1.Layer) int {
		status, _, body := do(t, http.MethodPost, g.base+"/v2/team/dst/blobs/uploads/?mount="+digestOf(l).String()+from, nil, nil)
		if status != http.StatusCreated && status != http.StatusAccepted {
			t.Errorf("mount: %d %s", status, body)
		}
		return status
	}
	waiting := fenceWaits(g)
	lateStatus := make(chan int, 1)
	g.collector.SetHook(func(point, subject string) {
		switch {
		case point == "planned":
			if mount(early) != http.StatusCreated {
				t.Error("mounting a stored blob did not answer 201")
			}
			if err := pushImage(t, g, "team/dst", "early", imageWith(t, early)); err != nil {
				t.Errorf("push after the mount: %v", err)
			}
		case point == "checked" && subject == digestOf(late).String():
			go func() { lateStatus <- mount(late) }()
			awaitWaiting(t, waiting)
		}
	})
	runGC(t, g)
	g.collector.SetHook(nil)
	if s := <-lateStatus; s == http.StatusCreated && !blobStored(t, g, digestOf(late)) {
		t.Fatal("the mount answered 201 for a blob the collector deleted")
	}
	if !blobStored(t, g, digestOf(early)) {
		t.Fatal("the collector deleted a blob mounted during the sweep")
	}
	pullVerified(t, g, "team/dst", "early")
	clk.advance(pastGrace)
	runGC(t, g)
	pullVerified(t, g, "team/dst", "early")
}

// TestGCManifestDeletedWhileIndexPut replays the collector deleting an
// untagged manifest (untagged: delete) while an index listing it is PUT:
// an index pushed before the tombstone keeps its child; one pushed after
// the collector decided waits and is refused (its child is gone) — never
// an accepted index naming a deleted manifest.
func TestGCManifestDeletedWhileIndexPut(t *testing.T) {
	eachGCBackend(t, raceManifestDeletedWhileIndexPut)
}

func raceManifestDeletedWhileIndexPut(t *testing.T, storage func(*config.Config)) {
	clk := &gcClock{}
	g := startGCServer(t, fleet.NewMemory(0), clk, gc.UntaggedDelete, storage)
	kept, _ := random.Image(256, 1)
	doomed, _ := random.Image(256, 1)
	for _, img := range []v1.Image{kept, doomed} {
		d, _ := img.Digest()
		ref, _ := name.ParseReference(g.host()+"/team/multi@"+d.String(), name.Insecure)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	keptD, _ := kept.Digest()
	doomedD, _ := doomed.Digest()
	g.backfill(t)
	clk.advance(pastGrace)
	index := func(img v1.Image) v1.ImageIndex {
		return mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})
	}
	waiting := fenceWaits(g)
	lateErr := make(chan error, 1)
	g.collector.SetHook(func(point, subject string) {
		switch {
		case point == "planned":
			ref, _ := name.ParseReference(g.host()+"/team/multi:kept", name.Insecure)
			if err := remote.WriteIndex(ref, index(kept)); err != nil {
				t.Errorf("index push before the tombstone: %v", err)
			}
		case point == "checked" && subject == doomedD.String():
			go func() {
				ref, _ := name.ParseReference(g.host()+"/team/multi:late", name.Insecure)
				lateErr <- remote.WriteIndex(ref, index(doomed))
			}()
			awaitWaiting(t, waiting)
		}
	})
	res := runGC(t, g)
	g.collector.SetHook(nil)
	if err := <-lateErr; err == nil {
		t.Fatal("an index naming a manifest the collector deleted meanwhile was accepted")
	}
	var deleted []string
	for _, m := range res.Manifests {
		deleted = append(deleted, m.Digest.String())
	}
	if len(deleted) != 1 || deleted[0] != doomedD.String() {
		t.Fatalf("deleted %v, want only %s (kept %s is in an index)", deleted, doomedD, keptD)
	}
	recorded := false
	for _, r := range g.records(t, "team/multi") {
		if r.Kind == metadata.KindDeleteManifest && r.Digest.String() == doomedD.String() {
			recorded = r.Status == metadata.StatusAccepted && strings.HasPrefix(r.Reason, "gc: untagged since ")
		}
	}
	if !recorded {
		t.Fatal("the collector's deletion is not recorded as an accepted delete-manifest with its reason")
	}
	pullVerified(t, g, "team/multi", "kept")
	status, _, _ := do(t, http.MethodGet, g.base+"/v2/team/multi/manifests/late", nil, nil)
	if status != http.StatusNotFound {
		t.Fatalf("the refused index is readable: %d", status)
	}
	clk.advance(pastGrace)
	runGC(t, g)
	pullVerified(t, g, "team/multi", "kept")
}

// TestGCTwoReplicas runs a pass on two replicas sharing one fleet store at
// once: one runs, the other is told another replica is running; the
// garbage goes once and every image pulls.
func TestGCTwoReplicas(t *testing.T) { eachGCBackend(t, raceTwoReplicas) }

func raceTwoReplicas(t *testing.T, storage func(*config.Config)) {
	clk := &gcClock{}
	store := fleet.NewMemory(0)
	a := startGCServer(t, store, clk, gc.UntaggedKeep, storage)
	b := startGCServer(t, store, clk, gc.UntaggedKeep, storage)
	img, _ := random.Image(512, 2)
	if err := pushImage(t, a, "team/app", "v1", img); err != nil {
		t.Fatal(err)
	}
	junk := garbageBlob(t, b, "team/app")
	a.backfill(t)
	clk.advance(pastGrace)
	var other error
	a.collector.SetHook(func(point, _ string) {
		if point == "planned" {
			_, other = b.collector.Run(t.Context())
		}
	})
	res := runGC(t, a)
	if !errors.Is(other, gc.ErrBusy) {
		t.Fatalf("the second replica's pass: %v, want ErrBusy", other)
	}
	if res.Blobs != 1 || blobStored(t, a, digestOf(junk)) {
		t.Fatalf("pass: %+v; junk stored %v", res, blobStored(t, a, digestOf(junk)))
	}
	pullVerified(t, b, "team/app", "v1")
}

// startWithChild starts a GC server on the filesystem and pushes, by
// digest, the image an index will list (team/multi@cd).
func startWithChild(t *testing.T) (*gcServer, v1.Image, v1.Hash) {
	t.Helper()
	g := startGCServer(t, fleet.NewMemory(0), &gcClock{}, gc.UntaggedKeep, gcBackends[0].storage(t))
	child, _ := random.Image(256, 1)
	cd, _ := child.Digest()
	ref, _ := name.ParseReference(g.host()+"/team/multi@"+cd.String(), name.Insecure)
	if err := remote.Write(ref, child); err != nil {
		t.Fatal(err)
	}
	return g, child, cd
}

// TestGCDeleteWhileIndexPut replays a client's DELETE of a manifest while
// an index listing it is being committed (after the index's push touched
// it): the DELETE is the client's right and is accepted, and the index
// push is then refused (4xx, MANIFEST_BLOB_UNKNOWN from the store stage's
// last check) — never accepted naming a deleted manifest.
func TestGCDeleteWhileIndexPut(t *testing.T) {
	g, child, cd := startWithChild(t)
	var status int
	var body []byte
	g.fence.SetHook(func(point string, d digest.Digest) {
		if point == "touched" && d.String() == cd.String() && status == 0 {
			status, _, body = do(t, http.MethodDelete, g.base+"/v2/team/multi/manifests/"+cd.String(), nil, nil)
		}
	})
	idx, _ := name.ParseReference(g.host()+"/team/multi:all", name.Insecure)
	err := remote.WriteIndex(idx, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: child}))
	if status != http.StatusAccepted {
		t.Fatalf("DELETE during the index push: %d %s, want 202", status, body)
	}
	if err == nil || !strings.Contains(err.Error(), "MANIFEST_BLOB_UNKNOWN") {
		t.Fatalf("index push after its child was deleted: %v, want MANIFEST_BLOB_UNKNOWN", err)
	}
	if st, _, _ := do(t, http.MethodGet, g.base+"/v2/team/multi/manifests/all", nil, nil); st != http.StatusNotFound {
		t.Fatalf("the refused index is served: %d", st)
	}
}

// TestGCDeleteAfterIndexPut: a manifest an index listed a moment ago can
// be deleted once that push is done (its touch, younger than gc.InFlight,
// does not refuse a client's DELETE; the OCI conformance suite does this).
func TestGCDeleteAfterIndexPut(t *testing.T) {
	g, child, cd := startWithChild(t)
	idx, _ := name.ParseReference(g.host()+"/team/multi:all", name.Insecure)
	if err := remote.WriteIndex(idx, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: child})); err != nil {
		t.Fatalf("index push: %v", err)
	}
	if st, _, body := do(t, http.MethodDelete, g.base+"/v2/team/multi/manifests/"+cd.String(), nil, nil); st != http.StatusAccepted {
		t.Fatalf("DELETE of a child after the index push: %d %s, want 202", st, body)
	}
}
