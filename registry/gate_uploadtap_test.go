package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	storagemiddleware "github.com/distribution/distribution/v3/registry/storage/driver/middleware"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/compressed"
)

// readObserverName is the storage middleware installing readObserver.
const readObserverName = "imagegate-test-read-observer"

func init() {
	if err := storagemiddleware.Register(readObserverName, func(_ context.Context, d storagedriver.StorageDriver, opts map[string]any) (storagedriver.StorageDriver, error) {
		reads, _ := opts["reads"].(*blobReads)
		if reads == nil {
			return nil, fmt.Errorf("%s: option reads must hold a *blobReads", readObserverName)
		}
		return &readObserver{StorageDriver: d, reads: reads}, nil
	}); err != nil {
		panic(err)
	}
}

// readObserver is an observation wrapper around the storage driver of
// distribution's App — the one the gate reads layers through at the
// manifest PUT: it counts the reads (Reader, GetContent) of every blob's
// data.
type readObserver struct {
	storagedriver.StorageDriver
	reads *blobReads
}

func (o *readObserver) Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error) {
	o.reads.note(path)
	return o.StorageDriver.Reader(ctx, path, offset)
}

func (o *readObserver) GetContent(ctx context.Context, path string) ([]byte, error) {
	o.reads.note(path)
	return o.StorageDriver.GetContent(ctx, path)
}

// blobReads counts the reads of each blob's data, by digest.
type blobReads struct {
	mu sync.Mutex
	n  map[digest.Digest]int
}

func (b *blobReads) note(path string) {
	// <root>/docker/registry/v2/blobs/sha256/<2 hex>/<hex>/data
	parts := strings.Split(path, "/")
	if len(parts) < 5 || parts[len(parts)-1] != "data" || parts[len(parts)-5] != "blobs" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == nil {
		b.n = map[digest.Digest]int{}
	}
	b.n[digest.NewDigestFromEncoded(digest.Algorithm(parts[len(parts)-4]), parts[len(parts)-2])]++
}

func (b *blobReads) of(d digest.Digest) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n[d]
}

// startObservedServer is startServer with the App's blob reads counted.
func startObservedServer(t *testing.T, mutate func(*config.Config)) (*testServer, *blobReads, string) {
	t.Helper()
	reads := &blobReads{}
	var root string
	s := startServer(t, func(c *config.Config) {
		root = c.Storage.Filesystem.RootDirectory
		if mutate != nil {
			mutate(c)
		}
	}, WithStorageMiddleware(configuration.Middleware{Name: readObserverName, Options: configuration.Parameters{"reads": reads}}))
	return s, reads, root
}

// uploadInPatches uploads data to repo in one PATCH per part (a part is
// an end offset), then an empty PUT with the digest claimed.
func uploadInPatches(t *testing.T, s *testServer, repo string, data []byte, claimed digest.Digest, ends ...int) int {
	t.Helper()
	status, hdr, body := do(t, "POST", s.base+"/v2/"+repo+"/blobs/uploads/", nil, nil)
	if status != http.StatusAccepted {
		t.Fatalf("open upload: %d %s", status, body)
	}
	loc, start := hdr.Get("Location"), 0
	for _, end := range ends {
		status, hdr, body = do(t, http.MethodPatch, resolve(s.base, loc), http.Header{
			"Content-Type": {"application/octet-stream"}, "Content-Range": {fmt.Sprintf("%d-%d", start, end-1)},
		}, bytes.NewReader(data[start:end]))
		if status != http.StatusAccepted {
			t.Fatalf("PATCH %d-%d: %d %s", start, end-1, status, body)
		}
		loc, start = hdr.Get("Location"), end
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	status, _, _ = do(t, http.MethodPut, resolve(s.base, loc)+sep+"digest="+claimed.String(), nil, nil)
	return status
}

// putImage uploads a config claiming diffIDs, puts a manifest of layers
// over it and returns the manifest PUT's status and body.
func putImage(t *testing.T, s *testServer, repo, tag string, layers []desc, diffIDs ...digest.Digest) (int, []byte) {
	t.Helper()
	cfg := configWithDiffIDs(diffIDs...)
	c := desc{MediaType: ociConfig, Digest: uploadBlob(t, s, repo, cfg), Size: int64(len(cfg))}
	status, _, resp := do(t, "PUT", s.base+"/v2/"+repo+"/manifests/"+tag, http.Header{"Content-Type": {ociManifest}},
		bytes.NewReader(manifestJSON(ociManifest, &c, layers, nil)))
	return status, resp
}

// TestManifestReadsNoLayerUploadedInOneBody: layers uploaded in one body
// (gzip and zstd by one PATCH and an empty PUT, a plain tar by a
// monolithic PUT) have their diff_id and layer index remembered by the
// time the upload's 201 is sent; the manifest PUT then passes the gate
// (diff_ids verified, layers analysed) without one read of a layer blob.
func TestManifestReadsNoLayerUploadedInOneBody(t *testing.T) {
	s, reads, root := startObservedServer(t, nil)
	repo := "tap/app"
	tarball := layerTar(t, tarFile{"usr/bin/tool", 3 << 20}, tarFile{"etc/conf", 1000})
	gz, zs := compressed.Gzip(t, tarball), compressed.Zstd(t, tarball)
	var layers []desc
	for _, blob := range [][]byte{gz, zs} {
		d := digest.FromBytes(blob)
		if status := uploadInPatches(t, s, repo, blob, d, len(blob)); status != http.StatusCreated {
			t.Fatalf("upload: %d", status)
		}
		layers = append(layers, desc{MediaType: ociLayer, Digest: d, Size: int64(len(blob))})
	}
	layers = append(layers, desc{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: uploadBlob(t, s, repo, tarball), Size: int64(len(tarball))})
	for _, l := range layers {
		for _, entry := range []string{
			filepath.Join(root, "imagegate", "diffids", "sha256", l.Digest.Encoded(), "sha256"),
			filepath.Join(root, "imagegate", "layerindex", "sha256", l.Digest.Encoded(), "v1"),
		} {
			if _, err := os.Stat(entry); err != nil {
				t.Fatalf("layer %s: nothing remembered at its upload: %v", l.Digest, err)
			}
		}
	}
	diff := digest.FromBytes(tarball)
	if status, resp := putImage(t, s, repo, "v1", layers, diff, diff, diff); status != http.StatusCreated {
		t.Fatalf("manifest: %d %s", status, resp)
	}
	for _, l := range layers {
		if n := reads.of(l.Digest); n != 0 {
			t.Errorf("layer %s was read %d times", l.Digest, n)
		}
	}
	if rs := s.records(t, repo); len(rs) != 1 || rs[0].Analysis == nil {
		t.Fatalf("records %+v: want one, analysed", rs)
	}
}

// TestUploadTapLearnsNothingWrong: what the tap could not vouch for is
// validated as before, by reading the layer at the manifest — an upload
// in two PATCHes, a corrupt gzip layer (refused with the same answer as
// without the tap) — and an upload whose digest did not verify leaves
// nothing remembered.
func TestUploadTapLearnsNothingWrong(t *testing.T) {
	s, reads, root := startObservedServer(t, nil)
	repo := "tap/careful"
	tarball := layerTar(t, tarFile{"opt/data", 2 << 20})
	gz := compressed.Gzip(t, tarball)
	d := digest.FromBytes(gz)

	// A digest that does not verify: refused, nothing remembered.
	if status := uploadInPatches(t, s, repo, gz, digest.FromString("another layer"), len(gz)); status != http.StatusBadRequest {
		t.Fatalf("upload under a wrong digest: %d, want 400", status)
	}
	for _, entry := range []string{filepath.Join(root, "imagegate", "diffids", "sha256", d.Encoded()),
		filepath.Join(root, "imagegate", "layerindex", "sha256", d.Encoded())} {
		if _, err := os.Stat(entry); !os.IsNotExist(err) {
			t.Fatalf("%s after a digest mismatch: %v, want nothing", entry, err)
		}
	}

	// Two PATCHes: the layer is read at the manifest, and its diff_id checked.
	if status := uploadInPatches(t, s, repo, gz, d, len(gz)/2, len(gz)); status != http.StatusCreated {
		t.Fatalf("upload in two PATCHes: %d", status)
	}
	l := []desc{{MediaType: ociLayer, Digest: d, Size: int64(len(gz))}}
	if status, resp := putImage(t, s, repo, "forged", l, digest.FromString("a diff_id the layer does not have")); status != http.StatusBadRequest ||
		!strings.Contains(string(resp), "lists diff_id") {
		t.Fatalf("manifest with a forged diff_id: %d %s", status, resp)
	}
	if n := reads.of(d); n == 0 {
		t.Fatal("a layer uploaded in two PATCHes was not read at the manifest")
	}
	if status, resp := putImage(t, s, repo, "v1", l, digest.FromBytes(tarball)); status != http.StatusCreated {
		t.Fatalf("manifest: %d %s", status, resp)
	}

	// A corrupt gzip layer in one body: the same refusal as without the tap.
	corrupt := append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, bytes.Repeat([]byte{0xee}, 64<<10)...)
	plainServer, _, _ := startObservedServer(t, func(c *config.Config) { c.Storage.Filesystem.Ingest = config.FilesystemWriterDistribution })
	var answers [][]byte
	for _, srv := range []*testServer{s, plainServer} {
		cd := digest.FromBytes(corrupt)
		if status := uploadInPatches(t, srv, repo, corrupt, cd, len(corrupt)); status != http.StatusCreated {
			t.Fatalf("upload of the corrupt layer: %d", status)
		}
		status, resp := putImage(t, srv, repo, "corrupt", []desc{{MediaType: ociLayer, Digest: cd, Size: int64(len(corrupt))}}, digest.FromString("x"))
		if status != http.StatusBadRequest || !strings.Contains(string(resp), "cannot be decompressed") {
			t.Fatalf("corrupt layer: %d %s", status, resp)
		}
		answers = append(answers, resp)
	}
	if !bytes.Equal(answers[0], answers[1]) {
		t.Fatalf("corrupt layer answered\n%s\nwith the tap, and\n%s\nwithout", answers[0], answers[1])
	}
	if n := reads.of(digest.FromBytes(corrupt)); n == 0 {
		t.Fatal("the corrupt layer was not read at the manifest")
	}
}
