package validate

import (
	"strings"
	"testing"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestCheckTypeLengths(t *testing.T) {
	long := "application/x." + strings.Repeat("a", 2_000_000)
	ok := strings.Repeat("t", maxMediaTypeBytes)
	for _, c := range []struct {
		name  string
		shape Shape
		field string // "" accepted
	}{
		{"usual", Shape{ArtifactType: "application/vnd.example.sbom+json", Config: &v1.Descriptor{MediaType: v1.MediaTypeImageConfig},
			Layers: []v1.Descriptor{{MediaType: v1.MediaTypeImageLayerGzip}}}, ""},
		{"at the bound", Shape{ArtifactType: ok}, ""},
		{"artifactType", Shape{ArtifactType: long}, "artifactType"},
		{"config", Shape{Config: &v1.Descriptor{MediaType: long}}, "config mediaType"},
		{"layer", Shape{Layers: []v1.Descriptor{{MediaType: ok}, {MediaType: long}}}, "layers[1] mediaType"},
		{"subject", Shape{Subject: &v1.Descriptor{MediaType: long}}, "subject mediaType"},
		{"index entry", Shape{Manifests: []v1.Descriptor{{ArtifactType: long}}}, "manifests[0] artifactType"},
	} {
		err := checkTypeLengths(&c.shape)
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.field != "" && (err == nil || !strings.Contains(err.Error(), c.field+" is 2000014 bytes") || len(err.Error()) > 1024):
			t.Errorf("%s: %.200v, want MANIFEST_INVALID naming %s and its length", c.name, err, c.field)
		}
	}
}
