package fleet

import (
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// testCrane pushes a multi-layer image with crane through HAProxy, pulls
// it back, and checks that the blob uploads were spread over the replicas
// (an upload's PATCH and PUT on different replicas) and that every replica
// serves the image.
func testCrane(t *testing.T, f *fleet) {
	bin := liveserver.RequireBinary(t, "CRANE_BIN")
	home := t.TempDir()
	crane := cli{name: "crane", bin: bin, pre: []string{"--insecure"},
		env: []string{"HOME=" + home, "DOCKER_CONFIG=" + filepath.Join(home, ".docker")}}
	for _, r := range append([]string{f.lb.Addr}, f.addrs()...) {
		if _, err := crane.run(t.Context(), users["root"], "auth", "login", r, "-u", "root", "--password-stdin"); err != nil {
			t.Fatal(err)
		}
	}
	img, tarPath := imageTarball(t, 6, 512<<10)
	want := digestOf(t, img)
	ref := f.lb.Addr + "/team/crane:v1"
	crane.must(t, "push", tarPath, ref)
	assertSpread(t, f, "team/crane")

	// Pulled back through HAProxy: the same image.
	out := filepath.Join(t.TempDir(), "pulled.tar")
	crane.must(t, "pull", ref, out)
	pulled, err := tarball.ImageFromPath(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := digestOf(t, pulled); got != want {
		t.Errorf("pulled %s, pushed %s", got, want)
	}
	// Every replica serves it (one storage, one set of records).
	for i, r := range f.replicas {
		if got := crane.must(t, "digest", r.Addr+"/team/crane:v1"); got != want {
			t.Errorf("replica %d serves %s for team/crane:v1, want %s", i+1, got, want)
		}
	}
}
