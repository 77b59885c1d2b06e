package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/gc"
	"github.com/imagegate/imagegate/internal/testutil/s3test"
)

// gcClock is an injectable clock garbage collection reads: tests move it
// past the grace period instead of sleeping.
type gcClock struct{ off atomic.Int64 }

func (c *gcClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *gcClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// gcServer is a registry with garbage collection reachable by the test.
type gcServer struct {
	*testServer
	collector *gc.Collector
	fence     *gc.Fence
}

// gcBackend is a storage the garbage collection tests run on; storage
// returns the configuration change that selects one instance of it
// (replicas of a test share it).
type gcBackend struct {
	name    string
	storage func(t *testing.T) func(*config.Config)
}

// gcBackends are the filesystem, always, and S3 (SeaweedFS; required by
// make test, IMAGEGATE_TEST_S3_ENDPOINT).
var gcBackends = []gcBackend{
	{"filesystem", func(t *testing.T) func(*config.Config) {
		root := t.TempDir()
		return func(c *config.Config) { c.Storage.Filesystem.RootDirectory = root }
	}},
	{"s3", func(t *testing.T) func(*config.Config) {
		_, bucket, endpoint := s3test.Bucket(t, "imagegate-gc-")
		return func(c *config.Config) { s3test.Configure(c, endpoint, bucket) }
	}},
}

// eachGCBackend runs race as a subtest on every backend.
func eachGCBackend(t *testing.T, race func(t *testing.T, storage func(*config.Config))) {
	for _, b := range gcBackends {
		t.Run(b.name, func(t *testing.T) { race(t, b.storage(t)) })
	}
}

// remoteFleet is a fake: store, seen by the server as a store of the
// fleet's (not its own memory), so that the fence runs its calls in
// parallel as on DynamoDB or SQL (registry/gc.go).
type remoteFleet struct{ fleet.Store }

// startGCServer runs a server on storage sharing store and clk; untagged
// is lifecycle.gc.untagged.
func startGCServer(t *testing.T, store fleet.Store, clk *gcClock, untagged string, storage func(*config.Config)) *gcServer {
	t.Helper()
	g := &gcServer{}
	s := startServer(t, func(c *config.Config) {
		c.Lifecycle.GC.Untagged = untagged
		storage(c)
	},
		WithFleet(remoteFleet{store}), WithGCClock(clk.now), WithGCHooks(func(c *gc.Collector, f *gc.Fence) { g.collector, g.fence = c, f }))
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
	p := "/docker/registry/v2/blobs/" + d.Algorithm + "/" + d.Hex[:2] + "/" + d.Hex + "/data"
	_, err := g.driver.Stat(t.Context(), p)
	var missing storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &missing) {
		t.Fatalf("stat %s: %v", p, err)
	}
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

// fenceWaits reports each digest whose push waits at the fence (its
// digest is tombstoned; the hook point "waiting", once per look), up to
// 16 unread.
func fenceWaits(g *gcServer) <-chan digest.Digest {
	waiting := make(chan digest.Digest, 16)
	g.fence.SetHook(func(point string, d digest.Digest) {
		if point == "waiting" {
			select {
			case waiting <- d:
			default:
			}
		}
	})
	return waiting
}
