package shim

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/distribution/reference"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/push"
	"github.com/imagegate/imagegate/validate"
)

// fuzzLimits are small upload limits, so that the fuzzer meets them.
var fuzzLimits = Limits{MaxUploadBytes: 1 << 20, MaxDecompressedBytes: 4 << 20, MaxRatio: 50, MaxEntries: 32, MaxMetadataBytes: 256 << 10}

// fuzzDeadline bounds one fuzzed upload (at most a few MiB of work under
// fuzzLimits, normally milliseconds): past it the upload is taken to
// spin, and the fuzzer fails with every goroutine's stack.
const fuzzDeadline = 20 * time.Second

// FuzzIngest uploads arbitrary bodies through the whole ingestion — the
// compression sniffing, the tar reader, docker save and OCI layout
// parsing, the gate (validation; no scanner) and publishing — on an
// in-memory registry. Invariants: every upload ends within fuzzDeadline
// and stores at most about twice what the limits let it decompress to; a
// refusal is an OCI error with a 4xx status and leaves no tag and no
// staging repository behind; an accepted upload's images are stored under
// the digest of their payload, every tag points at its image, and the
// staging repository is gone too.
func FuzzIngest(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx := context.Background()
		drv, ns, in := fuzzIngester(t)
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(fuzzDeadline):
				buf := make([]byte, 1<<20)
				panic(fmt.Sprintf("an upload of %d bytes is still running after %s:\n%s", len(body), fuzzDeadline, buf[:runtime.Stack(buf, true)]))
			}
		}()
		images, err := in.Ingest(ctx, Request{Body: bytes.NewReader(body)})
		if stored, bound := treeSize(t, drv), 2*fuzzLimits.MaxDecompressedBytes+int64(len(body)); stored > bound {
			t.Fatalf("an upload of %d bytes stored %d bytes, more than twice what the limits let it decompress to", len(body), stored)
		}
		if left := listTree(t, drv, repositoriesRoot+stagingRoot); len(left) > 0 {
			t.Fatalf("the staging repository is left behind: %v", left)
		}
		if err != nil {
			var e errcode.Error
			if !errors.As(err, &e) {
				t.Fatalf("refusal is not an OCI error: %T %v", err, err)
			}
			if st := e.Code.Descriptor().HTTPStatusCode; st < 400 || st > 499 {
				t.Fatalf("refusal %v answers %d", err, st)
			}
			for _, p := range listTree(t, drv, repositoriesRoot) {
				if strings.Contains(p, "/_manifests/tags/") {
					t.Fatalf("a refused upload left tag %s", p)
				}
			}
			return
		}
		if len(images) == 0 {
			t.Fatal("an accepted upload stored no image")
		}
		for _, img := range images {
			named, err := reference.WithName(img.Repository)
			if err != nil {
				t.Fatalf("image stored in invalid repository %q", img.Repository)
			}
			repo, err := ns.Repository(ctx, named)
			if err != nil {
				t.Fatal(err)
			}
			ms, err := repo.Manifests(ctx)
			if err != nil {
				t.Fatal(err)
			}
			d := digest.Digest(img.Digest)
			m, err := ms.Get(ctx, d)
			if err != nil {
				t.Fatalf("image %s@%s is not stored: %v", img.Repository, d, err)
			}
			_, payload, err := m.Payload()
			if err != nil || digest.FromBytes(payload) != d {
				t.Fatalf("image %s@%s stored with a payload of another digest", img.Repository, d)
			}
			for _, tag := range img.Tags {
				got, err := repo.Tags(ctx).Get(ctx, tag)
				if err != nil || got.Digest != d {
					t.Fatalf("tag %s:%s points at %s (%v), not %s", img.Repository, tag, got.Digest, err, d)
				}
			}
		}
	})
}

// fuzzIngester is an Ingester on a fresh in-memory registry behind a gate
// that validates (no scanner), under fuzzLimits.
func fuzzIngester(t *testing.T) (storagedriver.StorageDriver, distribution.Namespace, *Ingester) {
	t.Helper()
	drv := inmemory.New()
	// The in-memory driver reports only flushed bytes as a writer's size,
	// which distribution's resumable digests take for the offset written:
	// a blob written in several writes would commit with a wrong digest.
	ns, err := storage.NewRegistry(context.Background(), drv, storage.EnableDelete, storage.DisableDigestResumption,
		storage.ManifestURLsAllowRegexp(regexp.MustCompile("^$")), storage.EnableValidateImageIndexImagesExist)
	if err != nil {
		t.Fatal(err)
	}
	v, err := validate.New(validate.Options{AllowArtifacts: true})
	if err != nil {
		t.Fatal(err)
	}
	return drv, ns, New(Options{Namespace: ns, Driver: drv, Limits: fuzzLimits,
		Pipeline: push.New(push.Options{Namespace: ns, Recorder: nopRecorder{}, Validator: v})})
}

// TestFuzzSeedsReachTheGate: the valid seeds of FuzzIngest (docker save,
// gzip, zstd, OCI layout) are accepted, so that the fuzzer starts from
// inputs that go all the way through, not only from refusals.
func TestFuzzSeedsReachTheGate(t *testing.T) {
	for i, seed := range fuzzSeeds(t)[:4] {
		_, _, in := fuzzIngester(t)
		images, err := in.Ingest(context.Background(), Request{Body: bytes.NewReader(seed)})
		if err != nil || len(images) != 1 {
			t.Errorf("seed %d: %d images, %v", i, len(images), err)
		}
	}
}

// nopRecorder accepts every record.
type nopRecorder struct{}

func (nopRecorder) Put(context.Context, *metadata.Record) error           { return nil }
func (nopRecorder) Finish(context.Context, string, metadata.Finish) error { return nil }

// listTree lists every file under root ("" when there is none).
func listTree(t *testing.T, drv storagedriver.StorageDriver, root string) []string {
	t.Helper()
	var files []string
	err := drv.Walk(context.Background(), strings.TrimSuffix(root, "/"), func(fi storagedriver.FileInfo) error {
		if !fi.IsDir() {
			files = append(files, fi.Path())
		}
		return nil
	})
	var missing storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &missing) {
		t.Fatalf("walking %s: %v", root, err)
	}
	return files
}

// treeSize is the number of bytes of every file in drv.
func treeSize(t *testing.T, drv storagedriver.StorageDriver) int64 {
	t.Helper()
	var n int64
	err := drv.Walk(context.Background(), "/", func(fi storagedriver.FileInfo) error {
		if !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	var missing storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &missing) {
		t.Fatalf("walking the storage: %v", err)
	}
	return n
}

// fuzzEntry is one file of a seed archive.
type fuzzEntry struct {
	name string
	data []byte
	typ  byte   // tar.TypeReg when zero
	link string // link target
	pax  map[string]string
}

// tarOf writes entries as a tar archive.
func tarOf(tb testing.TB, entries ...fuzzEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: e.typ, Linkname: e.link, PAXRecords: e.pax}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if e.pax != nil {
			h.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(h); err != nil {
			tb.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil && h.Size > 0 {
			tb.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func gzipOf(tb testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := pgzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil || zw.Close() != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func zstdOf(tb testing.TB, b []byte) []byte {
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(b, nil)
}

func jsonOf(tb testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// configOf is an image config whose rootfs lists the diff_ids of layers.
func configOf(tb testing.TB, layers ...[]byte) []byte {
	img := v1.Image{Platform: v1.Platform{Architecture: "amd64", OS: "linux"}, RootFS: v1.RootFS{Type: "layers"}}
	for _, l := range layers {
		img.RootFS.DiffIDs = append(img.RootFS.DiffIDs, digest.FromBytes(l))
	}
	return jsonOf(tb, img)
}

// fuzzSeeds are valid archives of every kind the shim reads, and a few
// hostile ones.
func fuzzSeeds(tb testing.TB) [][]byte {
	small := tarOf(tb, fuzzEntry{name: "etc/hello", data: []byte("hello\n")})
	big := tarOf(tb, fuzzEntry{name: "bin/tool", data: bytes.Repeat([]byte("0123456789abcdef"), 512)})
	cfg := configOf(tb, small, big)
	cfgName := digest.FromBytes(cfg).Encoded() + ".json"

	// docker save, legacy layout; the second layer as an old-style symlink.
	save := tarOf(tb,
		fuzzEntry{name: "l1/", typ: tar.TypeDir},
		fuzzEntry{name: "l1/layer.tar", data: small},
		fuzzEntry{name: "l2/layer.tar", data: big},
		fuzzEntry{name: "l3/layer.tar", typ: tar.TypeSymlink, link: "../l2/layer.tar"},
		fuzzEntry{name: cfgName, data: cfg},
		fuzzEntry{name: "manifest.json", data: jsonOf(tb, []saveEntry{{Config: cfgName, RepoTags: []string{"fuzz/app:1", "fuzz/app:latest"},
			Layers: []string{"l1/layer.tar", "l3/layer.tar"}}})},
	)

	// OCI layout: a gzip layer, an index naming it by ref.name.
	gzLayer := gzipOf(tb, small)
	ocfg := configOf(tb, small)
	man := jsonOf(tb, v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, Config: desc(v1.MediaTypeImageConfig, ocfg),
		Layers: []v1.Descriptor{desc(v1.MediaTypeImageLayerGzip, gzLayer)}})
	md := desc(v1.MediaTypeImageManifest, man)
	md.Annotations = map[string]string{v1.AnnotationRefName: "fuzz/oci:1"}
	idx := jsonOf(tb, v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, Manifests: []v1.Descriptor{md}})
	layout := tarOf(tb,
		fuzzEntry{name: "oci-layout", data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		fuzzEntry{name: "index.json", data: idx},
		fuzzEntry{name: blobPath(digest.FromBytes(man)), data: man},
		fuzzEntry{name: blobPath(digest.FromBytes(ocfg)), data: ocfg},
		fuzzEntry{name: blobPath(digest.FromBytes(gzLayer)), data: gzLayer},
	)

	return [][]byte{
		save, gzipOf(tb, save), zstdOf(tb, layout), layout,
		// Hostile: a path escape, a link out of the archive, a device, a
		// long PAX name, duplicate entries, an empty archive, truncation.
		tarOf(tb, fuzzEntry{name: "../etc/passwd", data: []byte("x")}),
		tarOf(tb, fuzzEntry{name: "manifest.json", typ: tar.TypeSymlink, link: "/etc/passwd"}),
		tarOf(tb, fuzzEntry{name: "dev", typ: tar.TypeChar}),
		tarOf(tb, fuzzEntry{name: strings.Repeat("n/", 600) + "x", data: []byte("{}"), pax: map[string]string{"comment": "c"}}),
		tarOf(tb, fuzzEntry{name: "manifest.json", data: []byte("[]")}, fuzzEntry{name: "manifest.json", data: []byte("[]")}),
		tarOf(tb), save[:len(save)/2], []byte{0x1f, 0x8b, 8, 0}, []byte{0x28, 0xb5, 0x2f, 0xfd, 0},
	}
}

// desc describes content of media type mt.
func desc(mt string, content []byte) v1.Descriptor {
	return v1.Descriptor{MediaType: mt, Digest: digest.FromBytes(content), Size: int64(len(content))}
}

// TestCorruptZstdIsTarballInvalid reproduces the fuzzer's first find: a
// body starting with the zstd magic and a frame header with a reserved
// bit set (or any other corruption zstd reports with an unexported
// error) was answered 500 with the decoder's own text. It must be
// TARBALL_INVALID, a 400 naming the corruption.
func TestCorruptZstdIsTarballInvalid(t *testing.T) {
	valid := zstdOf(t, fuzzSeeds(t)[0])
	flipped := append([]byte{}, valid...)
	flipped[len(flipped)/2] ^= 0xff
	for name, body := range map[string][]byte{
		"reserved bit in frame header": []byte("(\xb5/\xfd8"),
		"corrupt block":                flipped,
	} {
		_, _, in := fuzzIngester(t)
		_, err := in.Ingest(context.Background(), Request{Body: bytes.NewReader(body)})
		var e errcode.Error
		if !errors.As(err, &e) || e.Code != ErrTarballInvalid {
			t.Errorf("%s: %v, want TARBALL_INVALID", name, err)
		}
	}
}
