package gate

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/memstat"
)

// maxHostileRescanAlloc bounds what the server allocates answering a
// rescan of an image whose stored config is 8 MiB of empty history
// entries. Before stored configs were checked for their entries, the
// rescan decoded it into a v1.Image and handed it to Trivy, which decoded
// it again: 5.2 GB allocated by one rescan. Now it is refused before
// either, in 17 MB (the config read once, the server's own work).
const maxHostileRescanAlloc = 64 << 20

// TestRescanOfAHostileStoredConfigIsBounded (attack: an image stored
// before the gate bounded a config's entries — 2.8 million empty history
// entries — rescanned through the API, by hand or by anyone who may push
// the repository): the rescan is refused with the gate's message, 400
// MANIFEST_INVALID naming /history, within a bounded allocation. The
// image is put in storage past the gate, as an older imagegate stored it.
func TestRescanOfAHostileStoredConfigIsBounded(t *testing.T) {
	var root string
	host, _ := serverWith(t, func(c *config.Config) { root = c.Storage.Filesystem.RootDirectory }, policy("audit", "HIGH"))
	const repo = "old/hostile"
	ref, err := name.NewRepository(host+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	upload := func(b []byte) digest.Digest { // a blob: blobs pass no gate
		t.Helper()
		if err := remote.WriteLayer(ref, static.NewLayer(b, types.OCILayer)); err != nil {
			t.Fatal(err)
		}
		return digest.FromBytes(b)
	}

	layer, err := random.Layer(1024, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(ref, layer); err != nil {
		t.Fatal(err)
	}
	ld, _ := layer.Digest()
	diffID, _ := layer.DiffID()
	size, _ := layer.Size()
	var cfg bytes.Buffer
	cfg.WriteString(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + diffID.String() + `"]},"history":[{}`)
	for cfg.Len() < 8<<20-64 {
		cfg.WriteString(",{}")
	}
	cfg.WriteString("]}")
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		upload(cfg.Bytes()).String() + `","size":` + strconv.Itoa(cfg.Len()) + `},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` +
		ld.String() + `","size":` + strconv.FormatInt(size, 10) + `}]}`)
	md := upload(manifest)
	// The manifest's revision link, as distribution's storage keeps it.
	link := filepath.Join(root, "docker/registry/v2/repositories", repo, "_manifests/revisions/sha256", md.Encoded(), "link")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(link, []byte(md.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	get, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+repo+"/manifests/"+md.String(), nil)
	get.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the stored image is not served: %d", resp.StatusCode)
	}

	var status int
	var body []byte
	alloc := memstat.Allocated(func() {
		resp, err := http.Post("http://"+host+"/api/v1/repositories/"+repo+"/manifests/"+md.String()+"/scan", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		status = resp.StatusCode
		body, _ = io.ReadAll(resp.Body)
	})
	t.Logf("rescan: %d %.200s; %.1f MB allocated", status, body, float64(alloc)/1e6)
	if status != http.StatusBadRequest || !strings.Contains(string(body), "MANIFEST_INVALID") ||
		!strings.Contains(string(body), "more than 10000 entries in /history") {
		t.Errorf("rescan: %d %.300s, want 400 MANIFEST_INVALID naming /history", status, body)
	}
	if alloc > maxHostileRescanAlloc {
		t.Errorf("the rescan allocated %d bytes, want at most %d", alloc, maxHostileRescanAlloc)
	}
}
