package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/gc"
)

// gcClock is an injectable clock garbage collection reads: tests move it
// past the grace period instead of sleeping.
type gcClock struct{ off atomic.Int64 }

func (c *gcClock) now() time.Time            { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *gcClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// gcServer is a registry with garbage collection reachable by the test.
type gcServer struct {
	*testServer
	collector *gc.Collector
	fence     *gc.Fence
}

// startGCServer runs a filesystem server sharing store and clk; untagged
// is lifecycle.gc.untagged; root, when given, is the storage directory
// (replicas share it).
func startGCServer(t *testing.T, store fleet.Store, clk *gcClock, untagged string, root ...string) *gcServer {
	t.Helper()
	g := &gcServer{}
	s := startServer(t, func(c *config.Config) {
		c.Lifecycle.GC.Untagged = untagged
		if len(root) > 0 { // replicas sharing one storage
			c.Storage.Filesystem.RootDirectory = root[0]
		}
	},
		WithFleet(store), WithGCClock(clk.now), WithGCHooks(func(c *gc.Collector, f *gc.Fence) { g.collector, g.fence = c, f }))
	g.testServer = s
	return g
}

// backfill indexes the stored manifests through the API (once per fleet).
func (g *gcServer) backfill(t *testing.T) {
	t.Helper()
	status, _, body := do(t, http.MethodPost, g.base+"/api/v1/gc/backfill", nil, nil)
	if status != http.StatusOK {
		t.Fatalf("backfill: %d %s", status, body)
	}
}

// garbageBlob uploads a random blob to repo that no manifest references.
func garbageBlob(t *testing.T, g *gcServer, repo string) v1.Layer {
	t.Helper()
	l, err := random.Layer(512, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.NewRepository(g.host()+"/"+repo, name.Insecure)
	if err := remote.WriteLayer(r, l); err != nil {
		t.Fatalf("uploading a blob: %v", err)
	}
	return l
}

// digestOf is l's digest.
func digestOf(l v1.Layer) v1.Hash {
	d, _ := l.Digest()
	return d
}

// blobStored reports whether d's data is in the server's storage.
func blobStored(t *testing.T, g *gcServer, d v1.Hash) bool {
	t.Helper()
	p := filepath.Join(g.cfg.Storage.Filesystem.RootDirectory, "docker/registry/v2/blobs", d.Algorithm, d.Hex[:2], d.Hex, "data")
	_, err := os.Stat(p)
	return err == nil
}

// pullVerified pulls ref (a tag or digest of repo) completely, as a
// client would: the manifest, and for an image every blob, for an index
// every child; each blob's bytes are checked against its digest.
func pullVerified(t *testing.T, g *gcServer, repo, ref string) {
	t.Helper()
	status, hdr, body := do(t, http.MethodGet, g.base+"/v2/"+repo+"/manifests/"+ref,
		http.Header{"Accept": {string(types.OCIManifestSchema1), string(types.OCIImageIndex), string(types.DockerManifestSchema2), string(types.DockerManifestList)}}, nil)
	if status != http.StatusOK {
		t.Fatalf("pull %s:%s: manifest %d %s", repo, ref, status, body)
	}
	var m struct {
		MediaType string          `json:"mediaType"`
		Config    *v1.Descriptor  `json:"config"`
		Layers    []v1.Descriptor `json:"layers"`
		Manifests []v1.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("pull %s:%s: %v", repo, ref, err)
	}
	for _, c := range m.Manifests {
		pullVerified(t, g, repo, c.Digest.String())
	}
	blobs := m.Layers
	if m.Config != nil {
		blobs = append(blobs, *m.Config)
	}
	for _, b := range blobs {
		status, _, data := do(t, http.MethodGet, g.base+"/v2/"+repo+"/blobs/"+b.Digest.String(), nil, nil)
		sum := sha256.Sum256(data)
		if status != http.StatusOK || "sha256:"+hex.EncodeToString(sum[:]) != b.Digest.String() {
			t.Fatalf("pull %s:%s (%s): blob %s answered %d with %d bytes of another digest", repo, ref, hdr.Get("Docker-Content-Digest"), b.Digest, status, len(data))
		}
	}
}

// pushImage writes img as repo:tag.
func pushImage(t *testing.T, g *gcServer, repo, tag string, img v1.Image) error {
	t.Helper()
	ref, _ := name.ParseReference(g.host()+"/"+repo+":"+tag, name.Insecure)
	return remote.Write(ref, img)
}
