package registry

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// TestManifestReadsBigWindowZstdLayer: a zstd layer whose window is past
// the upload tap's (diffid.TapZstdWindow, 8 MiB) but within the gate's
// 64 MiB — zstd --ultra -21 uses 32 MiB — uploaded in one body, is not
// learnt by the tap (nothing remembered at its upload); the manifest
// reads it once, verifies its diff_id, analyses it, and the push
// succeeds as without the tap.
func TestManifestReadsBigWindowZstdLayer(t *testing.T) {
	s, reads, root := startObservedServer(t, nil)
	repo := "tap/window"
	tarball := layerTar(t, tarFile{"usr/lib/big", 2 << 20}, tarFile{"etc/conf", 1000})
	var b bytes.Buffer
	zw, err := zstd.NewWriter(&b, zstd.WithWindowSize(32<<20))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(tarball); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	blob := b.Bytes()
	if h := new(zstd.Header); h.Decode(blob) != nil || h.WindowSize != 32<<20 {
		t.Fatalf("the test layer declares a window of %d bytes, want 32 MiB", h.WindowSize)
	}
	d := digest.FromBytes(blob)
	if status := uploadInPatches(t, s, repo, blob, d, len(blob)); status != http.StatusCreated {
		t.Fatalf("upload: %d", status)
	}
	if _, err := os.Stat(filepath.Join(root, "imagegate", "diffids", "sha256", d.Encoded())); !os.IsNotExist(err) {
		t.Fatalf("the tap remembered a layer past its window: %v", err)
	}
	layers := []desc{{MediaType: "application/vnd.oci.image.layer.v1.tar+zstd", Digest: d, Size: int64(len(blob))}}
	if status, resp := putImage(t, s, repo, "v1", layers, digest.FromBytes(tarball)); status != http.StatusCreated {
		t.Fatalf("manifest: %d %s", status, resp)
	}
	if n := reads.of(d); n != 1 {
		t.Fatalf("the layer was read %d times at the manifest, want once", n)
	}
	if rs := s.records(t, repo); len(rs) != 1 || rs[0].Analysis == nil {
		t.Fatalf("records %+v: want one, analysed", rs)
	}
}
