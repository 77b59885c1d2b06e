package gate

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/forged"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/scan/scantest"
)

// pushBlobsThen uploads img's config and layers to repo, then PUTs body
// (a manifest over them, edited by the test) as repoTag.
func pushBlobsThen(t *testing.T, host, repoTag string, img v1.Image, body []byte, mt types.MediaType) error {
	t.Helper()
	ref, err := name.ParseReference(host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		if err := remote.WriteLayer(ref.Context(), l); err != nil {
			t.Fatalf("layer upload: %v", err)
		}
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(ref.Context(), static.NewLayer(cfg, types.OCIConfigJSON)); err != nil {
		t.Fatalf("config upload: %v", err)
	}
	return remote.Put(ref, forged.Manifest{Body: body, Type: mt})
}

func wantRefusal(t *testing.T, err error, status int, code transport.ErrorCode, msgPart string) {
	t.Helper()
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != status || len(terr.Errors) == 0 || terr.Errors[0].Code != code ||
		!strings.Contains(terr.Errors[0].Message, msgPart) {
		t.Fatalf("push: %v; want %d %s with %q", err, status, code, msgPart)
	}
}

// TestScanCachePoisoningRefused reproduces the attack on Trivy's layer
// cache, which is keyed by the diff_ids an image config claims: a pusher
// with rights to any repository (here a personal one, audit mode) pushes
// a clean layer whose config claims the diff_id of a vulnerable base
// layer. Before diff_ids were verified that push was accepted, the clean
// analysis was filed under the vulnerable layer's key, and the real
// vulnerable image was then accepted by an enforce policy. Now the forged
// push is refused and the vulnerable image stays blocked.
func TestScanCachePoisoningRefused(t *testing.T) {
	host, records := server(t,
		policy("enforce", "HIGH", func(p *config.ScanPolicy) { p.Repositories = "prod/**" }),
		policy("audit", "HIGH"))
	clean, vuln := scantest.CleanImage(t), scantest.VulnerableImage(t)
	vulnCfg, err := vuln.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clean.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.RootFS.DiffIDs = vulnCfg.RootFS.DiffIDs
	poison, err := mutate.ConfigFile(clean, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Checked without stopping: the point is what happens to the next push.
	var terr *transport.Error
	if err := push(t, host, "mallory/poison:1", poison); !errors.As(err, &terr) || terr.StatusCode != http.StatusBadRequest ||
		terr.Errors[0].Code != transport.ManifestInvalidErrorCode || !strings.Contains(terr.Errors[0].Message, "lists diff_id") {
		t.Errorf("forged push: %v; want 400 MANIFEST_INVALID naming the diff_id", err)
	}

	wantRefusal(t, push(t, host, "prod/api:1", vuln), http.StatusForbidden, transport.DeniedErrorCode, "vulnerabilities at or above HIGH")
	if rs := records("prod/api"); len(rs) != 1 || rs[0].Status != metadata.StatusRejected {
		t.Fatalf("records %+v", rs)
	}
}

// TestArtifactTypeDoesNotSkipScan: before, a manifest with an image config
// and any artifactType (or a stray artifactType key in a Docker schema-2
// document) was classed as an artifact and never scanned. What a manifest
// is now follows from its config and layer media types only.
func TestArtifactTypeDoesNotSkipScan(t *testing.T) {
	host, records := server(t, policy("enforce", "HIGH"))
	vuln := scantest.VulnerableImage(t)
	oci := forged.Edit(t, vuln, func(m map[string]any) { m["artifactType"] = "application/vnd.example.innocent" })
	wantRefusal(t, pushBlobsThen(t, host, "app/oci:1", vuln, oci, types.OCIManifestSchema1),
		http.StatusForbidden, transport.DeniedErrorCode, "vulnerabilities at or above HIGH")

	docker := forged.Edit(t, vuln, func(m map[string]any) {
		m["mediaType"] = string(types.DockerManifestSchema2)
		m["artifactType"] = "application/vnd.example.innocent"
		m["config"].(map[string]any)["mediaType"] = string(types.DockerConfigJSON)
		for _, l := range m["layers"].([]any) {
			l.(map[string]any)["mediaType"] = string(types.DockerLayer)
		}
	})
	wantRefusal(t, pushBlobsThen(t, host, "app/docker:1", vuln, docker, types.DockerManifestSchema2),
		http.StatusForbidden, transport.DeniedErrorCode, "vulnerabilities at or above HIGH")
	for _, repo := range []string{"app/oci", "app/docker"} {
		if rs := records(repo); len(rs) != 1 || rs[0].Scan == nil || rs[0].Scan.Verdict != "enforce:block" {
			t.Fatalf("%s records %+v", repo, rs)
		}
	}
}

// TestUnscannableImageContent: image layers behind a config that is not an
// image config, and non-distributable layers, cannot be scanned. An
// enforce policy refuses them (403, permanent — not onerror's 503); an
// audit policy accepts them and records why nothing was scanned.
func TestUnscannableImageContent(t *testing.T) {
	srvHost, records := serverWith(t, func(c *config.Config) { c.Validation.ForeignLayers = true },
		policy("enforce", "HIGH", func(p *config.ScanPolicy) { p.Repositories = "prod/**" }),
		policy("audit", "HIGH"))
	vuln := scantest.VulnerableImage(t)
	emptyConfig := forged.Edit(t, vuln, func(m map[string]any) {
		m["config"].(map[string]any)["mediaType"] = "application/vnd.oci.empty.v1+json"
	})
	foreign := forged.Edit(t, vuln, func(m map[string]any) {
		l := m["layers"].([]any)[0].(map[string]any)
		l["mediaType"] = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
		l["urls"] = []string{"https://layers.example.com/base.tar.gz"}
	})
	for _, tc := range []struct {
		name, reason string
		body         []byte
	}{
		{"image layers behind an artifact config", "not an image config, so it cannot be scanned", emptyConfig},
		{"non-distributable layer", "non-distributable", foreign},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantRefusal(t, pushBlobsThen(t, srvHost, "prod/x:1", vuln, tc.body, types.OCIManifestSchema1),
				http.StatusForbidden, transport.DeniedErrorCode, tc.reason)
			if err := pushBlobsThen(t, srvHost, "dev/x:1", vuln, tc.body, types.OCIManifestSchema1); err != nil {
				t.Fatalf("audit push: %v", err)
			}
			rs := records("dev/x")
			if len(rs) == 0 || rs[0].Status != metadata.StatusAccepted || rs[0].Scan == nil ||
				rs[0].Scan.Verdict != "audit:unscannable" || !strings.Contains(rs[0].Scan.Error, tc.reason) {
				t.Fatalf("audit record %+v", rs[0].Scan)
			}
		})
	}
}
