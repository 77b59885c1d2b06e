package fleet

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// testSkopeo copies a multi-layer docker-archive to the registry through
// HAProxy with skopeo, back to a dir:, and checks the spread of the blob
// uploads and that the layers came back byte for byte.
func testSkopeo(t *testing.T, f *fleet) {
	bin := liveserver.RequireBinary(t, "SKOPEO_BIN")
	home := t.TempDir()
	policy := filepath.Join(home, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	skopeo := cli{name: "skopeo", bin: bin, pre: []string{"--policy", policy}, env: []string{
		"HOME=" + home,
		"REGISTRY_AUTH_FILE=" + filepath.Join(home, "auth.json"),
		"XDG_RUNTIME_DIR=" + filepath.Join(home, "run"),
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"DOCKER_CONFIG=" + filepath.Join(home, "docker"),
	}}
	if _, err := skopeo.run(t.Context(), users["alice"], "login", "--tls-verify=false", "-u", "alice", "--password-stdin", f.lb.Addr); err != nil {
		t.Fatal(err)
	}
	img, tarPath := imageTarball(t, 6, 512<<10)
	ref := "docker://" + f.lb.Addr + "/team/skopeo:v1"
	skopeo.must(t, "copy", "--dest-tls-verify=false", "docker-archive:"+tarPath, ref)
	assertSpread(t, f, "team/skopeo")

	dir := filepath.Join(t.TempDir(), "pulled")
	skopeo.must(t, "copy", "--src-tls-verify=false", ref, "dir:"+dir)
	// What came back: every blob the manifest names, intact, and a config
	// naming the pushed image's layers (diff_ids: uncompressed digests,
	// whatever compression skopeo chose on the way).
	var manifest struct {
		Config struct{ Digest string }
		Layers []struct{ Digest string }
	}
	readJSON(t, filepath.Join(dir, "manifest.json"), &manifest)
	for _, l := range append(manifest.Layers, manifest.Config) {
		algo, hexDigest, _ := strings.Cut(l.Digest, ":")
		b, err := os.ReadFile(filepath.Join(dir, hexDigest))
		if err != nil || algo != "sha256" || fmt.Sprintf("%x", sha256.Sum256(b)) != hexDigest {
			t.Errorf("blob %s pulled back: %v (corrupt or missing)", l.Digest, err)
		}
	}
	var cfg v1.ConfigFile
	_, configHex, _ := strings.Cut(manifest.Config.Digest, ":")
	readJSON(t, filepath.Join(dir, configHex), &cfg)
	want, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.RootFS.DiffIDs, want.RootFS.DiffIDs) || len(manifest.Layers) != len(want.RootFS.DiffIDs) {
		t.Errorf("pulled back %d layers with diff_ids %v, pushed %v", len(manifest.Layers), cfg.RootFS.DiffIDs, want.RootFS.DiffIDs)
	}
}

// readJSON decodes the JSON file at path into out.
func readJSON(t *testing.T, path string, out any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
}
