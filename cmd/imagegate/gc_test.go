package main

import (
	"encoding/json"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/gc"
	"github.com/imagegate/imagegate/registry"
	"github.com/imagegate/imagegate/registry/registrytest"
)

// TestGCCommands: `imagegate gc` refuses before the backfill and says so;
// --dry-run lists the unreferenced blob with why; --backfill indexes; a
// pass deletes the blob (and not the image's); --json prints the API's
// answer.
func TestGCCommands(t *testing.T) {
	var off atomic.Int64
	store := fleet.NewMemory(0)
	srv, _ := registrytest.Start(t, nil, registry.WithFleet(store),
		registry.WithGCClock(func() time.Time { return time.Now().Add(time.Duration(off.Load())) }))
	server := "http://" + srv.Addr().String()
	img, _ := random.Image(256, 1)
	ref, _ := name.ParseReference(srv.Addr().String()+"/dev/tool:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	junk, _ := random.Layer(256, types.OCILayer)
	repo, _ := name.NewRepository(srv.Addr().String()+"/dev/tool", name.Insecure)
	if err := remote.WriteLayer(repo, junk); err != nil {
		t.Fatal(err)
	}
	jd, _ := junk.Digest()
	off.Store(int64(48 * time.Hour))
	// A references entry whose manifest was never stored (a crashed
	// commit), written before the clock moved: the pass prunes it.
	stale := gc.Entry{Repository: "dev/tool", Manifest: digest.FromString("never stored"), Written: time.Now()}
	stale.Blobs = []digest.Digest{stale.Manifest}
	if err := gc.NewRefs(store).Put(t.Context(), stale); err != nil {
		t.Fatal(err)
	}

	_, stderr, status := cli(t, "", nil, "gc", "--server", server)
	if status == 0 || !strings.Contains(stderr, "backfill") {
		t.Fatalf("gc before the backfill: status %d, %s", status, stderr)
	}
	stdout, stderr, status := cli(t, "", nil, "gc", "--dry-run", "--server", server)
	if status != 0 || stderr != "" || !strings.Contains(stdout, "blob  "+jd.String()) ||
		!strings.Contains(stdout, "unreferenced, stored 48h0m0s ago (grace 24h0m0s)") || !strings.Contains(stdout, "not backfilled") {
		t.Fatalf("dry run: status %d, %s\n%s", status, stderr, stdout)
	}
	stdout, _, status = cli(t, "", nil, "gc", "--backfill", "--server", server)
	if status != 0 || !strings.Contains(stdout, "indexed the references of 1 manifests in 1 repositories") {
		t.Fatalf("backfill: status %d\n%s", status, stdout)
	}
	stdout, _, status = cli(t, "", nil, "gc", "--json", "--server", server)
	var res gc.Result
	if status != 0 || json.Unmarshal([]byte(stdout), &res) != nil || res.Blobs != 1 || res.Pruned != 1 ||
		!strings.Contains(stdout, `"index_entries_pruned": 1`) {
		t.Fatalf("gc --json: status %d\n%s", status, stdout)
	}
	if err := gc.NewRefs(store).Put(t.Context(), stale); err != nil { // stale again, for the text
		t.Fatal(err)
	}
	stdout, _, status = cli(t, "", nil, "gc", "--server", server)
	if status != 0 || !strings.Contains(stdout, "0 manifests and 0 blobs (0 bytes) deleted, 0 skipped, 1 stale index entries pruned, 0 aliases and 0 derived objects of blobs not stored, 0 stored scan reports deleted in ") {
		t.Fatalf("gc: status %d\n%s", status, stdout)
	}
	stdout, _, status = cli(t, "", nil, "gc", "--dry-run", "--server", server)
	if status != 0 || !strings.Contains(stdout, ": 0 manifests and 0 blobs (0 bytes) to delete, 1 manifests indexed") {
		t.Fatalf("dry run after the pass: status %d\n%s", status, stdout)
	}
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := pulled.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers { // go-containerregistry checks each blob's digest as it reads
		rc, err := l.Compressed()
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if err != nil {
			t.Fatalf("pulling a layer of the kept image: %v", err)
		}
	}
	if _, err := pulled.RawConfigFile(); err != nil {
		t.Fatalf("pulling the kept image's config: %v", err)
	}
}
