package validate

import (
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestArtifactsRuntimesWouldRun: an artifact whose config and layers a
// runtime would pull and run as an image is unscannable; artifacts with
// types of their own are not (test/gate's TestRunnableArtifactRefused
// pushes the same shapes through a real server).
func TestArtifactsRuntimesWouldRun(t *testing.T) {
	v, err := New(Options{AllowArtifacts: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		config      string
		layers      []string
		unscannable bool
	}{
		{"application/json", []string{"application/octet-stream"}, true},
		{"application/octet-stream", []string{""}, true},
		{"", []string{"text/html"}, true},
		{"APPLICATION/VND.OCI.IMAGE.CONFIG.V1+JSON", []string{"Application/Vnd.Oci.Image.Layer.V1.Tar+Gzip"}, true},
		{"application/vnd.oci.image.config.v2+json", []string{"application/vnd.docker.image.layer.v9"}, true},
		{"application/json.x", []string{".x"}, true}, // Docker's prefix rule: type + "."
		{"application/vnd.cncf.helm.config.v1+json", []string{"application/vnd.oci.image.layer.v2.tar+gzip"}, true},
		{"application/vnd.cncf.helm.config.v1+json", []string{"application/vnd.erofs.layer.v1"}, true},
		{"application/vnd.cncf.helm.config.v1+json", []string{"application/vnd.docker.image.rootfs.diff.tar.gzip+x"}, true},
		// Types of their own: no runtime runs these.
		{"application/vnd.cncf.helm.config.v1+json", []string{"application/vnd.cncf.helm.chart.content.v1.tar+gzip"}, false},
		{v1.MediaTypeEmptyJSON, []string{"application/octet-stream"}, false},
		{"application/json", []string{"application/octet-stream", "application/vnd.example.data.v1"}, false},
		{"application/json", nil, false},
		{"application/vnd.oci.imagex", []string{"application/octet-stream"}, false},
	} {
		res := &Result{Kind: KindArtifact, Shape: Shape{Config: &v1.Descriptor{MediaType: tc.config}}}
		for _, l := range tc.layers {
			res.Shape.Layers = append(res.Shape.Layers, v1.Descriptor{MediaType: l})
		}
		if got := v.unscannable(res) != ""; got != tc.unscannable {
			t.Errorf("config %q, layers %q: unscannable %v, want %v", tc.config, tc.layers, got, tc.unscannable)
		}
	}
}
