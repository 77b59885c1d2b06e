package push

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/metadata/bolt"
	"github.com/imagegate/imagegate/oci"
	"github.com/imagegate/imagegate/validate"
)

// harness is a pipeline over real parts: distribution's storage on an
// in-memory driver, a bbolt metadata store, the real validator.
type harness struct {
	t        *testing.T
	driver   storagedriver.StorageDriver
	ns       distribution.Namespace
	store    *bolt.Store
	pipeline *Pipeline
	events   *eventLog
}

func newHarness(t *testing.T, mutate ...func(*Options)) *harness {
	t.Helper()
	return newHarnessOn(t, inmemory.New(), filepath.Join(t.TempDir(), "records.db"), mutate...)
}

func newHarnessOn(t *testing.T, driver storagedriver.StorageDriver, boltPath string, mutate ...func(*Options)) *harness {
	t.Helper()
	ctx := context.Background()
	ns, err := storage.NewRegistry(ctx, driver, storage.EnableDelete,
		storage.ManifestURLsAllowRegexp(regexp.MustCompile("^$")), storage.EnableValidateImageIndexImagesExist)
	if err != nil {
		t.Fatal(err)
	}
	store, err := bolt.Open(boltPath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	v, err := validate.New(validate.Options{AllowArtifacts: true})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, driver: driver, ns: ns, store: store, events: &eventLog{}}
	opts := Options{Namespace: ns, Referrers: oci.NewReferrers(driver), Aliases: oci.NewAliases(driver),
		Recorder: store, Records: store, Validator: v, Events: h.events, Locator: Locator{Driver: "inmemory"}}
	for _, m := range mutate {
		m(&opts)
	}
	h.pipeline = New(opts)
	return h
}

// image uploads a config (distinguished by seed) and one layer to repo and
// returns the OCI manifest naming them.
func (h *harness) image(repo, seed string) []byte {
	h.t.Helper()
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Labels":{"seed":%q}},"rootfs":{"type":"layers","diff_ids":[]}}`, seed))
	cdesc := h.blob(repo, v1.MediaTypeImageConfig, cfg)
	return h.manifest(map[string]any{"schemaVersion": 2, "mediaType": v1.MediaTypeImageManifest,
		"config": cdesc, "layers": []v1.Descriptor{}})
}

// blob uploads content to repo.
func (h *harness) blob(repo, mediaType string, content []byte) v1.Descriptor {
	h.t.Helper()
	desc, err := h.repo(repo).Blobs(context.Background()).Put(context.Background(), mediaType, content)
	if err != nil {
		h.t.Fatal(err)
	}
	desc.MediaType = mediaType
	return desc
}

func (h *harness) manifest(m map[string]any) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

func (h *harness) repo(name string) distribution.Repository {
	h.t.Helper()
	named, err := reference.WithName(name)
	if err != nil {
		h.t.Fatal(err)
	}
	r, err := h.ns.Repository(context.Background(), named)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// tag is what tag names in repo ("" when it does not exist).
func (h *harness) tag(repo, tag string) digest.Digest {
	h.t.Helper()
	desc, err := h.repo(repo).Tags(context.Background()).Get(context.Background(), tag)
	if err != nil {
		return ""
	}
	return desc.Digest
}

// stored reports whether manifest d is in repo.
func (h *harness) stored(repo string, d digest.Digest) bool {
	h.t.Helper()
	ms, err := h.repo(repo).Manifests(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	ok, err := ms.Exists(context.Background(), d)
	if err != nil {
		h.t.Fatal(err)
	}
	return ok
}

// record reads the record with id back from the store.
func (h *harness) record(id string) *metadata.Record {
	h.t.Helper()
	r, err := h.store.Get(context.Background(), id)
	if err != nil {
		h.t.Fatalf("record %s: %v", id, err)
	}
	return r
}

func newPush(repo string, payload []byte, tags ...string) *Push {
	return &Push{Repository: repo, MediaType: v1.MediaTypeImageManifest, Payload: payload, Tags: tags,
		Source: metadata.SourceDockerPush}
}

// eventLog keeps the events the pipeline published, in order.
type eventLog struct {
	mu        sync.Mutex
	published []metadata.Record
}

func (e *eventLog) Publish(_ context.Context, rec metadata.Record) {
	e.mu.Lock()
	e.published = append(e.published, rec)
	e.mu.Unlock()
}

func (e *eventLog) Scanned(context.Context, metadata.Record) {}

func (e *eventLog) list() []metadata.Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]metadata.Record(nil), e.published...)
}
