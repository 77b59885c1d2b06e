package gate

import (
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/forged"
	"github.com/imagegate/imagegate/scan/scantest"
)

// TestRunnableArtifactRefused reproduces a scan bypass found in the
// adversarial review of 2026-12-03: the vulnerable fixture image's
// manifest, its config and layers relabelled with media types that are
// not image types (config "application/json", layers
// "application/octet-stream", …). The gate took it for an OCI artifact —
// no image config, no "image layer" — and an enforce policy accepted it
// unscanned. Yet Docker's engine (its classic image store) pulls any
// manifest whose config and layers have one of the types it tolerates
// from old registries (application/octet-stream, application/json,
// text/html, none, or anything under application/vnd.oci.image. or
// application/vnd.docker., case-insensitively), verifies the layers
// against the config's diff_ids and runs the image; containerd turns an
// application/octet-stream config into an image config and unpacks
// layers of any application/vnd.oci.image.layer. type, and EROFS layers.
// Each variant is now refused as unscannable by enforce; a real artifact
// (a chart: its own config and layer types) is still accepted.
func TestRunnableArtifactRefused(t *testing.T) {
	host, records := server(t,
		policy("enforce", "HIGH", func(p *config.ScanPolicy) { p.Repositories = "prod/**" }),
		policy("audit", "HIGH"))
	vuln := scantest.VulnerableImage(t)
	relabel := func(configType string, layerType func(i int) string) []byte {
		return forged.Edit(t, vuln, func(m map[string]any) {
			m["config"].(map[string]any)["mediaType"] = configType
			for i, l := range m["layers"].([]any) {
				l.(map[string]any)["mediaType"] = layerType(i)
			}
		})
	}
	same := func(mt string) func(int) string { return func(int) string { return mt } }
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"json config, octet-stream layers (docker engine)", relabel("application/json", same("application/octet-stream"))},
		{"octet-stream config, untyped layers (docker engine)", relabel("application/octet-stream", same(""))},
		{"untyped config, text/html layers (docker engine)", relabel("", same("text/html"))},
		{"upper-case OCI types (docker engine compares lower-cased)",
			relabel("APPLICATION/VND.OCI.IMAGE.CONFIG.V1+JSON", same("Application/Vnd.Oci.Image.Layer.V1.Tar+Gzip"))},
		{"made-up types under the OCI and Docker prefixes (docker engine)",
			relabel("application/vnd.oci.image.config.v2+json", same("application/vnd.docker.image.layer.v9"))},
		{"octet-stream config, OCI layer prefix (containerd)",
			relabel("application/octet-stream", same("application/vnd.oci.image.layer.v2.tar+gzip"))},
		{"octet-stream config, EROFS layer (containerd)",
			relabel("application/octet-stream", same("application/vnd.erofs.layer.v1"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantRefusal(t, pushBlobsThen(t, host, "prod/relabelled:1", vuln, tc.body, types.OCIManifestSchema1),
				http.StatusForbidden, transport.DeniedErrorCode, "cannot be scanned")
			if tagExists(t, host, "prod/relabelled:1") {
				t.Fatal("the refused manifest is tagged")
			}
		})
	}
	if rs := records("prod/relabelled"); len(rs) == 0 || rs[0].Scan == nil || rs[0].Scan.Verdict != "enforce:unscannable" {
		t.Fatalf("latest record %+v, want verdict enforce:unscannable", rs)
	}

	t.Run("a chart is still an artifact", func(t *testing.T) {
		chart := relabel("application/vnd.cncf.helm.config.v1+json", same("application/vnd.cncf.helm.chart.content.v1.tar+gzip"))
		if err := pushBlobsThen(t, host, "prod/chart:1", vuln, chart, types.OCIManifestSchema1); err != nil {
			t.Fatalf("chart push: %v", err)
		}
	})
	t.Run("an untyped layer beside an artifact layer does not run", func(t *testing.T) {
		// Docker's engine refuses a manifest with any layer type it does
		// not know, so this cannot run as an image.
		mixed := forged.Edit(t, vuln, func(m map[string]any) {
			cfg := m["config"].(map[string]any)
			layers := m["layers"].([]any)
			layers[0].(map[string]any)["mediaType"] = "application/octet-stream"
			m["layers"] = append(layers, map[string]any{"mediaType": "application/vnd.example.data.v1", "digest": cfg["digest"], "size": cfg["size"]})
			cfg["mediaType"] = "application/json"
		})
		if err := pushBlobsThen(t, host, "prod/data:1", vuln, mixed, types.OCIManifestSchema1); err != nil {
			t.Fatalf("artifact push: %v", err)
		}
	})
}
