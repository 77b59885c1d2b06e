package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// TestDockerSaveImagegatePush is the tarball door end to end with real
// tools: `docker save IMG | imagegate push - --to REPO:TAG` against the
// real imagegate binary, then the local image is removed and `docker pull`
// fetches it back: same image ID (config digest), same diff IDs, and the
// digest the push printed is the one Docker pulled.
func TestDockerSaveImagegatePush(t *testing.T) {
	bin := liveserver.RequireBinary(t, envImagegateBin)
	docker := requireDocker(t)
	srv := liveserver.Start(t, bin)

	img, err := randomImage(layerCount)
	if err != nil {
		t.Fatal(err)
	}
	imageID, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	wantLayers, err := diffIDs(img)
	if err != nil {
		t.Fatal(err)
	}
	tag := uniqueTag()
	localRef := "imagegate-e2e/saved:" + tag
	remoteRef := srv.Addr + "/e2e/saved:" + tag
	t.Cleanup(func() { removeImage(t, docker, imageID.String()) })
	loadImage(t, docker, img, localRef)

	// docker save | imagegate push -
	ctx, cancel := context.WithTimeout(t.Context(), cmdTimeout)
	defer cancel()
	save := exec.CommandContext(ctx, docker.bin, "save", localRef)
	push := exec.CommandContext(ctx, bin, "push", "-", "--server", "http://"+srv.Addr, "--to", "e2e/saved:"+tag, "--json")
	push.WaitDelay, save.WaitDelay = 5*time.Second, 5*time.Second
	pipe, err := save.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	push.Stdin = pipe
	var saveErr, pushOut, pushErr bytes.Buffer
	save.Stderr, push.Stdout, push.Stderr = &saveErr, &pushOut, &pushErr
	if err := save.Start(); err != nil {
		t.Fatalf("docker save: %v", err)
	}
	pushRunErr := push.Run()
	if err := save.Wait(); err != nil {
		t.Fatalf("docker save: %v\n%s", err, saveErr.String())
	}
	if pushRunErr != nil {
		t.Fatalf("imagegate push: %v\nstdout: %s\nstderr:\n%s", pushRunErr, pushOut.String(), pushErr.String())
	}
	t.Logf("imagegate push progress:\n%s", pushErr.String())
	var res struct {
		Images []struct {
			Repository string   `json:"repository"`
			Tags       []string `json:"tags"`
			Digest     string   `json:"digest"`
			RecordID   string   `json:"record_id"`
		} `json:"images"`
	}
	if err := json.Unmarshal(pushOut.Bytes(), &res); err != nil || len(res.Images) != 1 {
		t.Fatalf("push --json output %q: %v", pushOut.String(), err)
	}
	pushed := res.Images[0]
	if pushed.Repository != "e2e/saved" || !slices.Equal(pushed.Tags, []string{tag}) || pushed.RecordID == "" {
		t.Errorf("pushed image: %+v", pushed)
	}
	for _, want := range []string{"sending (unknown size)", "stage receiving: ", "done"} {
		if !strings.Contains(pushErr.String(), want) {
			t.Errorf("progress lacks %q", want)
		}
	}

	// Remove the local image, pull it back through the registry.
	docker.must(t, "rmi", localRef)
	if _, err := docker.run(t.Context(), "image", "inspect", imageID.String()); err == nil {
		t.Fatalf("image %s still present after docker rmi; the pull would prove nothing", imageID)
	}
	docker.must(t, "pull", remoteRef)
	got := inspect(t, docker, remoteRef)
	t.Logf("pulled %s: RepoDigests %q", got.ID, got.RepoDigests)
	if want := srv.Addr + "/e2e/saved@" + pushed.Digest; !slices.Contains(got.RepoDigests, want) {
		t.Errorf("pulled RepoDigests = %q, want it to contain %q", got.RepoDigests, want)
	}
	if got.ID != imageID.String() {
		t.Errorf("pulled image ID = %s, saved image ID = %s", got.ID, imageID)
	}
	if !slices.Equal(got.RootFS.Layers, wantLayers) {
		t.Errorf("pulled diff IDs = %q, want %q", got.RootFS.Layers, wantLayers)
	}
}
