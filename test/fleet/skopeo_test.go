package fleet

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, d.Hex)); err != nil {
			t.Errorf("layer %s not pulled back: %v", d, err)
		}
	}
	var inspect struct{ Layers []string }
	if err := json.Unmarshal([]byte(skopeo.must(t, "inspect", "--tls-verify=false", ref)), &inspect); err != nil {
		t.Fatal(err)
	}
	if len(inspect.Layers) != len(layers) {
		t.Errorf("skopeo inspect lists %d layers, want %d: %s", len(inspect.Layers), len(layers), strings.Join(inspect.Layers, " "))
	}
}
