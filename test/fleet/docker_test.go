package fleet

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// pushDigest matches the last line of `docker push`: "TAG: digest: sha256:... size: N".
var pushDigest = regexp.MustCompile(`digest: (sha256:[0-9a-f]{64}) size: \d+`)

// testDocker pushes a multi-layer image with the real docker client and
// engine through HAProxy, removes it locally, pulls it back and checks
// that docker, the registry and the spread of the uploads agree.
//
// The fleet lives in a private network namespace (scripts/netns-tests.sh),
// where the engine `make test` starts on the host cannot reach HAProxy's
// loopback address: this test starts an engine of its own inside the
// namespace (scripts/dockerd.sh, no bridge, vfs; about 1.5 s) and stops it
// at the end.
func testDocker(t *testing.T, f *fleet) {
	docker := startDockerd(t)
	if _, err := docker.run(t.Context(), users["root"], "login", "-u", "root", "--password-stdin", f.lb.Addr); err != nil {
		t.Fatal(err)
	}
	img := dockerImage(t, 4)
	imageID, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	local := "fleet-test/docker:v1"
	tarPath := filepath.Join(t.TempDir(), "image.tar")
	tag, err := name.NewTag(local)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
		t.Fatal(err)
	}
	docker.must(t, "load", "-i", tarPath)
	remote := f.lb.Addr + "/team/docker:v1"
	docker.must(t, "tag", local, remote)
	out := docker.must(t, "push", remote)
	m := pushDigest.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no digest in docker push output:\n%s", out)
	}
	assertSpread(t, f, "team/docker")

	docker.must(t, "rmi", "-f", imageID.String())
	docker.must(t, "pull", remote)
	if got := docker.must(t, "image", "inspect", "--format", "{{.Id}} {{index .RepoDigests 0}}", remote); got != imageID.String()+" "+f.lb.Addr+"/team/docker@"+m[1] {
		t.Errorf("pulled image: %q, want id %s and digest %s", got, imageID, m[1])
	}
}

// startDockerd starts a Docker engine with scripts/dockerd.sh in a short
// temporary directory (a unix socket path must fit 108 bytes), logs how
// long it took, and stops it when the test ends. It returns a docker
// client of that engine.
func startDockerd(t *testing.T) cli {
	t.Helper()
	bin, err := exec.LookPath("docker")
	if err != nil {
		liveserver.Unavailable(t, "no docker client on PATH (%v); scripts/dockerd.sh installs one", err)
	}
	dir, err := os.MkdirTemp("", "fleet-dockerd")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(liveserver.RepoRoot(t), "scripts", "dockerd.sh")
	start := time.Now()
	out, err := exec.CommandContext(t.Context(), "bash", script, "start", dir).Output()
	if err != nil {
		t.Fatalf("start dockerd (scripts/dockerd.sh): %v\n%s", err, out)
	}
	t.Cleanup(func() {
		// scripts/dockerd.sh stop exits 1 when the engine left nothing
		// mounted under dir (its unmount loop's grep finds nothing under
		// pipefail): what counts is that the engine is gone.
		out, err := exec.Command("bash", script, "stop", dir).CombinedOutput()
		if b, _ := os.ReadFile(filepath.Join(dir, "dockerd.pid")); len(b) > 0 {
			t.Errorf("dockerd still recorded as running after stop: %v\n%s", err, out)
		}
		_ = os.RemoveAll(dir)
	})
	t.Logf("dockerd inside the test's network namespace ready in %v", time.Since(start).Round(10*time.Millisecond))
	host := strings.TrimSpace(string(out))
	return cli{name: "docker", bin: bin, env: []string{host, "DOCKER_CONFIG=" + filepath.Join(dir, "config")}}
}

// dockerImage returns a linux image for this architecture with n layers of
// real tar content (as docker load unpacks them).
func dockerImage(t *testing.T, n int) v1.Image {
	t.Helper()
	img := empty.Image
	for range n {
		l, err := random.Layer(512<<10, types.DockerLayer)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	return img
}
