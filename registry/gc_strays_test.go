// GC of strays: sha512 aliases and derived objects (diff_id entries, layer
// indexes) of blobs that are not stored, and the races around them.

package registry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/gc"
	"github.com/imagegate/imagegate/layers"
	"github.com/imagegate/imagegate/oci"
	"github.com/imagegate/imagegate/scan/detach"
)

// postBlobAs uploads content to repo in the POST that opens the upload,
// addressed by d (a sha512 digest records a registry-wide alias); it
// answers the status.
func postBlobAs(t *testing.T, g *gcServer, repo string, content []byte, d digest.Digest) int {
	t.Helper()
	status, _, body := do(t, http.MethodPost, g.base+"/v2/"+repo+"/blobs/uploads/?digest="+url.QueryEscape(d.String()),
		http.Header{"Content-Type": {"application/octet-stream"}}, bytes.NewReader(content))
	if status != http.StatusCreated {
		t.Errorf("upload of %s: %d %s", d, status, body)
	}
	return status
}

// mountAnonymously mounts d into repo naming no source repository and
// answers the status.
func mountAnonymously(t *testing.T, g *gcServer, repo string, d digest.Digest) int {
	t.Helper()
	status, _, body := do(t, http.MethodPost, g.base+"/v2/"+repo+"/blobs/uploads/?mount="+url.QueryEscape(d.String()), nil, nil)
	if status != http.StatusCreated && status != http.StatusAccepted {
		t.Errorf("anonymous mount of %s: %d %s", d, status, body)
	}
	return status
}

// deriveFor stores two diff_ids and a layer index for blob, through the
// stores the registry reads them with.
func deriveFor(t *testing.T, g *gcServer, blob digest.Digest) {
	t.Helper()
	ids := diffid.NewDriverStore(g.driver)
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		if err := ids.Put(t.Context(), blob, alg.FromString("tar of "+blob.String())); err != nil {
			t.Fatal(err)
		}
	}
	x, err := layers.Index(t.Context(), bytes.NewReader(nil), layers.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := layers.NewDriverStore(g.driver).Put(t.Context(), blob, x); err != nil {
		t.Fatal(err)
	}
}

// deriveLayer stores l's diff_id and layer index, computed from its
// content, as the tarball door does before it commits the blob.
func deriveLayer(t *testing.T, g *gcServer, l v1.Layer) {
	t.Helper()
	blob := digest.Digest(digestOf(l).String())
	diffID, err := l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	if err := diffid.NewDriverStore(g.driver).Put(t.Context(), blob, digest.Digest(diffID.String())); err != nil {
		t.Fatal(err)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	x, err := layers.Index(t.Context(), rc, layers.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := layers.NewDriverStore(g.driver).Put(t.Context(), blob, x); err != nil {
		t.Fatal(err)
	}
}

// derivedFor reports whether blob's sha256 diff_id and its layer index
// are stored.
func derivedFor(t *testing.T, g *gcServer, blob digest.Digest) (bool, bool) {
	t.Helper()
	_, d, err := diffid.NewDriverStore(g.driver).Get(t.Context(), blob, digest.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	_, x, err := layers.NewDriverStore(g.driver).Get(t.Context(), blob)
	if err != nil {
		t.Fatal(err)
	}
	return d, x
}

// aliasRecorded reports whether the registry-wide alias a is stored.
func aliasRecorded(t *testing.T, g *gcServer, a digest.Digest) bool {
	t.Helper()
	_, ok, err := oci.NewAliases(g.driver).Recall(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestGCAliasesAndOrphans: a blob uploaded by its sha512 digest goes with
// its registry-wide alias; an alias whose blob was deleted before gc
// deleted aliases, and the derived objects of a blob deleted before gc
// deleted them, go once past the grace period; derived objects written
// before their blob is stored (the tarball door's order) are kept, within
// the grace period and then for good once the blob is stored. The dry run
// lists each. An anonymous mount through an alias whose blob is gone
// answers 202 (upload it), never 201.
func TestGCAliasesAndOrphans(t *testing.T) { eachGCBackend(t, aliasesAndOrphans) }

func aliasesAndOrphans(t *testing.T, storage func(*config.Config)) {
	clk := &gcClock{}
	g := startGCServer(t, fleet.NewMemory(0), clk, gc.UntaggedKeep, storage)
	garbage := []byte("garbage uploaded by its sha512 digest")
	garbage512 := digest.SHA512.FromBytes(garbage)
	postBlobAs(t, g, "team/src", garbage, garbage512)
	early := []byte("deleted before gc deleted aliases")
	early512 := digest.SHA512.FromBytes(early)
	postBlobAs(t, g, "team/src", early, early512)
	// Deleted behind gc's back, as a version before this one left it:
	// its alias stays, naming a blob that is not stored.
	if err := g.driver.Delete(t.Context(), "/docker/registry/v2/blobs/sha256/"+digest.FromBytes(early).Encoded()[:2]+"/"+digest.FromBytes(early).Encoded()); err != nil {
		t.Fatal(err)
	}
	if status := mountAnonymously(t, g, "team/dst", early512); status != http.StatusAccepted {
		t.Fatalf("anonymous mount through an alias of a blob not stored: %d, want 202", status)
	}
	orphan := digest.FromString("a layer deleted before gc deleted derived objects")
	deriveFor(t, g, orphan)
	layer, err := random.Layer(512, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	deriveLayer(t, g, layer) // before its blob is stored
	g.backfill(t)

	clk.advance(pastGrace/2 - time.Hour) // within the grace period: nothing goes
	if res := runGC(t, g); res.Blobs != 0 || res.Aliases != 0 || res.DerivedOrphans != 0 {
		t.Fatalf("pass within the grace period deleted: %+v", res)
	}
	if d, x := derivedFor(t, g, digest.Digest(digestOf(layer).String())); !d || !x {
		t.Fatalf("derived objects of a blob not stored yet deleted: diff_id %v, layer index %v", d, x)
	}
	if err := pushImage(t, g, "team/app", "v1", imageWith(t, layer)); err != nil {
		t.Fatal(err)
	}

	clk.advance(pastGrace)
	status, _, body := do(t, http.MethodGet, g.base+"/api/v1/gc/plan", nil, nil)
	var p gc.Plan
	if status != http.StatusOK || json.Unmarshal(body, &p) != nil {
		t.Fatalf("plan: %d %s", status, body)
	}
	if len(p.Blobs) != 1 || p.Blobs[0].Digest != digest.FromBytes(garbage) || len(p.Blobs[0].Aliases) != 1 || p.Blobs[0].Aliases[0] != garbage512 {
		t.Errorf("plan's blobs: %+v, want %s with its alias %s", p.Blobs, digest.FromBytes(garbage), garbage512)
	}
	if len(p.Aliases) != 1 || p.Aliases[0].Alias != early512 || !strings.Contains(p.Aliases[0].Why, "is not stored") {
		t.Errorf("plan's aliases: %+v, want %s", p.Aliases, early512)
	}
	if len(p.Orphans) != 2 || p.Orphans[0].Blob != orphan || p.Orphans[1].Blob != orphan {
		t.Errorf("plan's derived orphans: %+v, want the diff_ids and the layer index of %s", p.Orphans, orphan)
	}
	res := runGC(t, g)
	if res.Blobs != 1 || res.Aliases != 2 || res.DerivedOrphans != 3 {
		t.Fatalf("pass: %d blobs, %d aliases, %d derived orphans deleted; want 1, 2, 3: %+v", res.Blobs, res.Aliases, res.DerivedOrphans, res)
	}
	if aliasRecorded(t, g, garbage512) || aliasRecorded(t, g, early512) {
		t.Errorf("aliases left: of the deleted blob %v, of the blob not stored %v", aliasRecorded(t, g, garbage512), aliasRecorded(t, g, early512))
	}
	if d, x := derivedFor(t, g, orphan); d || x {
		t.Errorf("derived objects of a blob not stored left: diff_id %v, layer index %v", d, x)
	}
	if d, x := derivedFor(t, g, digest.Digest(digestOf(layer).String())); !d || !x {
		t.Errorf("derived objects of a stored blob deleted: diff_id %v, layer index %v", d, x)
	}
	if status := mountAnonymously(t, g, "team/dst", garbage512); status != http.StatusAccepted {
		t.Errorf("anonymous mount of a collected sha512 blob: %d, want 202", status)
	}
	pullVerified(t, g, "team/app", "v1")
}

// TestGCOrphanUploadedDuringSweep replays the blob of an alias and of
// derived objects being uploaded while a pass deletes them as strays:
// uploaded before the collector's tombstone (its touch is seen), or
// touching after it (the upload waits for the collector, whose touch
// check then sees it): either way the alias and the derived objects stay
// with the blob, which pulls.
func TestGCOrphanUploadedDuringSweep(t *testing.T) {
	for _, point := range []string{"planned", "tombstoned"} {
		t.Run(point, func(t *testing.T) {
			eachGCBackend(t, func(t *testing.T, storage func(*config.Config)) { raceOrphanUploaded(t, storage, point) })
		})
	}
}

func raceOrphanUploaded(t *testing.T, storage func(*config.Config), at string) {
	clk := &gcClock{}
	g := startGCServer(t, fleet.NewMemory(0), clk, gc.UntaggedKeep, storage)
	content := []byte("a layer uploaded again during the sweep")
	blob, blob512 := digest.FromBytes(content), digest.SHA512.FromBytes(content)
	if err := oci.NewAliases(g.driver).Remember(t.Context(), blob512, blob); err != nil {
		t.Fatal(err)
	}
	deriveFor(t, g, blob)
	g.backfill(t)
	clk.advance(pastGrace)
	waiting := fenceWaits(g)
	uploaded := make(chan int, 1)
	g.collector.SetHook(func(point, subject string) {
		switch {
		case at == "planned" && point == "planned":
			uploaded <- postBlobAs(t, g, "team/app", content, blob)
		case at == "tombstoned" && point == "tombstoned" && subject == blob.String():
			go func() { uploaded <- postBlobAs(t, g, "team/app", content, blob) }()
			if d := awaitWaiting(t, waiting); d != "" && d != blob {
				t.Errorf("the upload waited on %s, want %s", d, blob)
			}
		}
	})
	res := runGC(t, g)
	g.collector.SetHook(nil)
	if s := <-uploaded; s != http.StatusCreated {
		t.Fatalf("upload during the sweep: %d", s)
	}
	if res.Aliases != 0 || res.DerivedOrphans != 0 {
		t.Fatalf("deleted %d aliases and %d derived objects of a blob being uploaded: %+v", res.Aliases, res.DerivedOrphans, res)
	}
	if d, x := derivedFor(t, g, blob); !d || !x || !aliasRecorded(t, g, blob512) {
		t.Fatalf("left: diff_id %v, layer index %v, alias %v; want all", d, x, aliasRecorded(t, g, blob512))
	}
	status, _, body := do(t, http.MethodGet, g.base+"/v2/team/app/blobs/"+blob512.String(), nil, nil)
	if status != http.StatusNotFound && (status != http.StatusOK || !bytes.Equal(body, content)) {
		t.Fatalf("GET by sha512 after the sweep: %d %q", status, body)
	}
	if status := mountAnonymously(t, g, "team/dst", blob512); status != http.StatusCreated {
		t.Fatalf("anonymous mount by the kept alias: %d, want 201", status)
	}
}

// TestGCScanReports: a detached scan's report stored in the storage
// driver (scan/detach.ReportRoot) is kept while its fleet item may live
// and for gc.ScanReportMargin after, listed by the dry run and deleted by
// the pass after that.
func TestGCScanReports(t *testing.T) { eachGCBackend(t, scanReports) }

func scanReports(t *testing.T, storage func(*config.Config)) {
	clk := &gcClock{}
	g := startGCServer(t, fleet.NewMemory(0), clk, gc.UntaggedKeep, storage)
	manifest := digest.FromString("a manifest whose report was too big for its fleet item")
	object := detach.ReportRoot + "/sha256/" + manifest.Encoded()
	if err := g.driver.PutContent(t.Context(), object, []byte("gzipped report")); err != nil {
		t.Fatal(err)
	}
	g.backfill(t)
	kept := detach.DefaultTTL + gc.ScanReportMargin
	clk.advance(kept - time.Minute)
	if res := runGC(t, g); res.ScanReports != 0 {
		t.Fatalf("pass within the report's time deleted %d scan reports", res.ScanReports)
	}
	clk.advance(2 * time.Minute)
	p, err := g.collector.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ScanReports) != 1 || p.ScanReports[0].Manifest != manifest {
		t.Fatalf("plan's scan reports: %+v, want %s", p.ScanReports, manifest)
	}
	if res := runGC(t, g); res.ScanReports != 1 {
		t.Fatalf("pass past the report's time deleted %d scan reports, want 1: %+v", res.ScanReports, res)
	}
	if _, err := g.driver.Stat(t.Context(), object); err == nil {
		t.Errorf("%s still stored", object)
	}
}
