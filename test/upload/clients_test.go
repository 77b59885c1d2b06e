package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// Environment of the real-client tests (scripts/dockerd.sh, scripts/install-clients.sh).
const (
	envDockerHost = "DOCKER_HOST"
	envSkopeoBin  = "SKOPEO_BIN"
	envCraneBin   = "CRANE_BIN"
)

// run executes a client command bounded by two minutes.
func run(t testing.TB, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out.String())
	}
	return strings.TrimSpace(out.String())
}

// TestDockerSave: `docker save` of an image in a real engine uploads, and
// the engine pulls the result back with the same layers.
func TestDockerSave(t *testing.T) {
	liveserver.RequireEnv(t, envDockerHost, "address of a Docker engine, see scripts/dockerd.sh")
	docker, err := exec.LookPath("docker")
	if err != nil {
		liveserver.Unavailable(t, "no docker client on PATH: %v", err)
	}
	s := start(t, nil)
	img := randomImage(t, 512<<10, 3)
	local := fmt.Sprintf("upload-e2e/app:%d", time.Now().UnixNano())
	tarPath := filepath.Join(t.TempDir(), "load.tar")
	tag, _ := name.NewTag(local)
	if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
		t.Fatal(err)
	}
	run(t, docker, "load", "-i", tarPath)
	t.Cleanup(func() { _ = exec.Command(docker, "rmi", "-f", local).Run() })
	saved := filepath.Join(t.TempDir(), "saved.tar")
	run(t, docker, "save", "-o", saved, local)
	archive, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, query string }{{"plain", "tag=plain"}, {"gzip", "tag=gz"}} {
		t.Run(c.name, func(t *testing.T) {
			body := archive
			if c.name == "gzip" {
				body = gz(t, archive)
			}
			s.mustUpload(t, "repository=e2e/docker&"+c.query, body)
			got := s.pull(t, "e2e/docker:"+strings.TrimPrefix(c.query, "tag="))
			if !slices.Equal(diffIDs(t, got), diffIDs(t, img)) {
				t.Fatal("diff_ids differ from the saved image's")
			}
		})
	}
	remoteRef := s.host + "/e2e/docker:plain"
	run(t, docker, "pull", remoteRef)
	t.Cleanup(func() { _ = exec.Command(docker, "rmi", "-f", remoteRef).Run() })
	var inspect []struct{ RootFS struct{ Layers []string } }
	if err := json.Unmarshal([]byte(run(t, docker, "image", "inspect", remoteRef)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	var want []string
	for _, d := range diffIDs(t, img) {
		want = append(want, d.String())
	}
	if !slices.Equal(inspect[0].RootFS.Layers, want) {
		t.Fatalf("pulled layers %v, want %v", inspect[0].RootFS.Layers, want)
	}
}

// TestSkopeoArchives: skopeo's docker-archive and oci-archive outputs upload.
func TestSkopeoArchives(t *testing.T) {
	skopeo := liveserver.RequireBinary(t, envSkopeoBin)
	s := start(t, nil)
	img := ociImage(t, 256<<10, 2, "linux/amd64") // this skopeo finds only OCI manifests in a layout
	src := filepath.Join(t.TempDir(), "oci")
	if _, err := layout.Write(src, mustIndex(t, img)); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "src"})); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dockerArchive := filepath.Join(dir, "docker.tar")
	ociArchive := filepath.Join(dir, "oci.tar")
	run(t, skopeo, "copy", "oci:"+src+":src", "docker-archive:"+dockerArchive+":e2e/skopeo:da")
	run(t, skopeo, "copy", "oci:"+src+":src", "oci-archive:"+ociArchive+":oa")
	for _, c := range []struct{ path, query, ref string }{
		{dockerArchive, "", "e2e/skopeo:da"},
		{ociArchive, "repository=e2e/skopeo", "e2e/skopeo:oa"},
	} {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			archive, err := os.ReadFile(c.path)
			if err != nil {
				t.Fatal(err)
			}
			s.mustUpload(t, c.query, archive)
			got := s.pull(t, c.ref)
			if !slices.Equal(diffIDs(t, got), diffIDs(t, img)) {
				t.Fatal("diff_ids differ")
			}
		})
	}
}

// TestCraneTarballs: `crane pull` in legacy (docker save) and OCI formats.
func TestCraneTarballs(t *testing.T) {
	crane := liveserver.RequireBinary(t, envCraneBin)
	s := start(t, nil)
	img := randomImage(t, 128<<10, 2)
	ref, _ := name.ParseReference(s.host+"/e2e/src:1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	legacy := filepath.Join(dir, "legacy.tar")
	run(t, crane, "pull", "--insecure", "--format=legacy", s.host+"/e2e/src:1", legacy)
	ociDir := filepath.Join(dir, "oci")
	run(t, crane, "pull", "--insecure", "--format=oci", s.host+"/e2e/src:1", ociDir)
	want, _ := img.Digest()
	for _, c := range []struct {
		name    string
		archive func() []byte
	}{
		{"legacy", func() []byte { b, _ := os.ReadFile(legacy); return b }},
		{"oci", func() []byte { return tarDir(t, ociDir) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.mustUpload(t, "repository=e2e/crane&tag="+c.name, c.archive())
			got := s.pull(t, "e2e/crane:"+c.name)
			// The OCI layout keeps the registry's gzip layers, so the very
			// manifest; the legacy format holds plain layers, compressed again.
			if d, _ := got.Digest(); c.name == "oci" && d != want {
				t.Fatalf("digest %s, want %s (the registry's)", d, want)
			}
			if !slices.Equal(diffIDs(t, got), diffIDs(t, img)) {
				t.Fatal("diff_ids differ")
			}
		})
	}
}

// mustIndex is an empty OCI index to start a layout from.
func mustIndex(t testing.TB, _ v1.Image) v1.ImageIndex {
	t.Helper()
	return emptyIndex
}
