package docker

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// Environment read by the tests of this package.
const (
	envImagegateBin = "IMAGEGATE_BIN" // the imagegate binary under test
	envDockerHost   = "DOCKER_HOST"   // the engine, e.g. from `scripts/dockerd.sh start DIR`
)

const layerCount = 3

// TestDockerPushPull pushes an image with the real Docker client and engine
// to a fresh imagegate, removes it locally, pulls it back, and checks that
// Docker, the registry and the original image agree: the digest docker push
// printed is the one the registry serves for the tag, the pulled image's
// RepoDigests names that digest, and the pulled image has the same ID and
// layers (diff IDs) as the image that was loaded.
func TestDockerPushPull(t *testing.T) {
	bin := liveserver.RequireBinary(t, envImagegateBin)
	docker := requireDocker(t)

	srv := liveserver.Start(t, bin)

	img, err := randomImage(layerCount)
	if err != nil {
		t.Fatal(err)
	}
	imageID, err := img.ConfigName() // Docker's image ID is the config digest
	if err != nil {
		t.Fatal(err)
	}
	wantLayers, err := diffIDs(img)
	if err != nil {
		t.Fatal(err)
	}
	tag := uniqueTag()
	localRef := "imagegate-e2e/src:" + tag
	remoteRef := srv.Addr + "/e2e/app:" + tag
	t.Cleanup(func() { removeImage(t, docker, imageID.String()) })

	loadImage(t, docker, img, localRef)

	// tag + push; remember the digest docker reports.
	docker.must(t, "tag", localRef, remoteRef)
	pushOut := docker.must(t, "push", remoteRef)
	m := pushDigest.FindStringSubmatch(pushOut)
	if m == nil {
		t.Fatalf("no digest in docker push output:\n%s", pushOut)
	}
	pushedDigest := m[1]
	t.Logf("docker push %s: %s", remoteRef, pushedDigest)

	// The registry serves that digest for the tag.
	ref, err := name.ParseReference(remoteRef, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	desc, err := remote.Head(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("HEAD manifest %s: %v", remoteRef, err)
	}
	if desc.Digest.String() != pushedDigest {
		t.Errorf("registry digest for %s = %s, docker push reported %s", remoteRef, desc.Digest, pushedDigest)
	}
	remoteImg, err := remote.Image(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("GET image %s: %v", remoteRef, err)
	}
	if ls, err := remoteImg.Layers(); err != nil || len(ls) != layerCount {
		t.Errorf("registry manifest has %d layers (err %v), want %d", len(ls), err, layerCount)
	}

	// Remove every local copy, then pull from the registry.
	docker.must(t, "rmi", localRef, remoteRef)
	if _, err := docker.run(t.Context(), "image", "inspect", imageID.String()); err == nil {
		t.Fatalf("image %s still present after docker rmi; the pull would prove nothing", imageID)
	}
	docker.must(t, "pull", remoteRef)

	got := inspect(t, docker, remoteRef)
	t.Logf("pulled %s: RepoDigests %q, %d layers", got.ID, got.RepoDigests, len(got.RootFS.Layers))
	wantRepoDigest := srv.Addr + "/e2e/app@" + desc.Digest.String()
	if !slices.Contains(got.RepoDigests, wantRepoDigest) {
		t.Errorf("pulled RepoDigests = %q, want it to contain %q", got.RepoDigests, wantRepoDigest)
	}
	if got.ID != imageID.String() {
		t.Errorf("pulled image ID = %s, loaded image ID = %s", got.ID, imageID)
	}
	if len(got.RootFS.Layers) != layerCount {
		t.Errorf("pulled image has %d layers, want %d", len(got.RootFS.Layers), layerCount)
	}
	if !slices.Equal(got.RootFS.Layers, wantLayers) {
		t.Errorf("pulled diff IDs = %q, want %q", got.RootFS.Layers, wantLayers)
	}
}

// loadImage puts img into the engine as localRef, with docker load of a
// tarball written by go-containerregistry.
func loadImage(t *testing.T, docker dockerCLI, img v1.Image, localRef string) {
	t.Helper()
	tarPath := filepath.Join(t.TempDir(), "image.tar")
	srcTag, err := name.NewTag(localRef)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(tarPath, srcTag, img); err != nil {
		t.Fatalf("write image tarball: %v", err)
	}
	if out := docker.must(t, "load", "-i", tarPath); !strings.Contains(out, localRef) {
		t.Fatalf("docker load did not report %s:\n%s", localRef, out)
	}
}

// requireDocker returns a client for the engine at DOCKER_HOST, or skips
// (fails under IMAGEGATE_TEST_REQUIRE_ALL=1) when there is none. It fails
// the test when DOCKER_HOST is set but the engine does not answer.
func requireDocker(t *testing.T) dockerCLI {
	t.Helper()
	liveserver.RequireEnv(t, envDockerHost, "address of a Docker engine, see scripts/dockerd.sh")
	cliPath, err := exec.LookPath("docker")
	if err != nil {
		liveserver.Unavailable(t, "no docker client on PATH (%v); `make test` or scripts/dockerd.sh installs one", err)
	}
	docker := dockerCLI{bin: cliPath}
	ver, err := docker.run(t.Context(), "version", "--format", "{{.Server.Version}}")
	if err != nil {
		t.Fatalf("DOCKER_HOST is set but the engine does not answer: %v", err)
	}
	t.Logf("docker engine %s", ver)
	return docker
}

// imageInspect is the part of `docker image inspect` the test reads.
type imageInspect struct {
	ID          string   `json:"Id"`
	RepoDigests []string `json:"RepoDigests"`
	RootFS      struct {
		Layers []string `json:"Layers"`
	} `json:"RootFS"`
}

func inspect(t *testing.T, docker dockerCLI, ref string) imageInspect {
	t.Helper()
	out := docker.must(t, "image", "inspect", "--format", "{{json .}}", ref)
	var ii imageInspect
	if err := json.Unmarshal([]byte(out), &ii); err != nil {
		t.Fatalf("decode docker image inspect %s: %v\n%s", ref, err, out)
	}
	return ii
}

// removeImage deletes the image and all its tags from the engine; an image
// that is already gone is fine. It runs in t.Cleanup, after t.Context() is
// done, so it has its own bounded context.
func removeImage(t *testing.T, docker dockerCLI, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	if out, err := docker.run(ctx, "rmi", "-f", id); err != nil && !strings.Contains(out, "No such image") {
		t.Errorf("clean up image %s: %v", id, err)
	}
}
