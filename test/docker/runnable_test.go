package docker

import (
	"archive/tar"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagegate/imagegate/internal/testutil/forged"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/metadata"
)

// TestDockerRunsRelabelledImage is the premise of the scan bypass that
// test/gate's TestRunnableArtifactRefused reproduces: an image whose
// manifest calls its config "application/json" and its layer
// "application/octet-stream" — an OCI artifact to the gate, so not
// scanned — is pulled and run by the real engine like any image. The
// server runs its default policy (audit on every repository); the record
// must say the content could not be scanned (audit:unscannable), where it
// said nothing before the fix, and an enforce policy refuses it (the gate
// test).
func TestDockerRunsRelabelledImage(t *testing.T) {
	bin := liveserver.RequireBinary(t, envImagegateBin)
	docker := requireDocker(t)
	srv := liveserver.Start(t, bin)

	img, err := mutate.Append(empty.Image, mutate.Addendum{Layer: layerOf(t, d("bin"),
		tarEntry{name: "bin/lsfs", typ: tar.TypeReg, data: buildLsfs(t), mode: 0o755}, d("etc"), f("etc/relabelled", 100, 1))})
	if err != nil {
		t.Fatal(err)
	}
	img = listing(t, img, "/etc")
	ref, err := name.ParseReference(srv.Addr+"/e2e/relabelled:"+uniqueTag(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	// The image as it is uploads the blobs; the relabelled manifest
	// over them is the push in question.
	if err := remote.Write(ref.Context().Tag("genuine"), img); err != nil {
		t.Fatalf("genuine push: %v", err)
	}
	body := forged.Edit(t, img, func(m map[string]any) {
		m["mediaType"] = string(types.OCIManifestSchema1)
		m["config"].(map[string]any)["mediaType"] = "application/json"
		m["layers"].([]any)[0].(map[string]any)["mediaType"] = "application/octet-stream"
	})
	if err := remote.Put(ref, forged.Manifest{Body: body, Type: types.OCIManifestSchema1}); err != nil {
		t.Fatalf("manifest push (audit): %v", err)
	}
	t.Cleanup(func() { removeImage(t, docker, ref.String()) })

	docker.must(t, "pull", "-q", ref.String())
	if out := docker.must(t, "run", "--rm", "--network", "none", ref.String()); !strings.Contains(out, "/etc/relabelled ") {
		t.Fatalf("the relabelled image did not run its entrypoint:\n%s", out)
	}

	resp, err := http.Get(srv.URL + "/api/v1/pushes?limit=10&repository=e2e/relabelled")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Records []*metadata.Record `json:"records"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&page) != nil || len(page.Records) == 0 {
		t.Fatalf("list records: %d", resp.StatusCode)
	}
	if r := page.Records[0]; r.Scan == nil || r.Scan.Verdict != "audit:unscannable" {
		t.Fatalf("record %s: scan %+v, want verdict audit:unscannable", r.Status, r.Scan)
	}
}
