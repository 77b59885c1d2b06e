package trivy_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagegate/imagegate/scan/scantest"
	"github.com/imagegate/imagegate/scan/trivy"
)

// restore returns img with every layer's tar stored by store (same config).
func restore(t *testing.T, img v1.Image, store func(tar []byte) (v1.Layer, error)) v1.Image {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	out := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	out = mutate.ConfigMediaType(out, types.OCIConfigJSON)
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		nl, err := store(raw)
		if err != nil {
			t.Fatal(err)
		}
		mt, err := nl.MediaType()
		if err != nil {
			t.Fatal(err)
		}
		if out, err = mutate.Append(out, mutate.Addendum{Layer: nl, MediaType: mt}); err != nil {
			t.Fatal(err)
		}
	}
	if out, err = mutate.ConfigFile(out, cfg); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLayerCompressions: zstd and uncompressed layers (BuildKit can push
// both) are scanned like gzip ones.
func TestLayerCompressions(t *testing.T) {
	s := openFixture(t, trivy.Options{})
	for name, store := range map[string]func([]byte) (v1.Layer, error){
		"zstd": func(raw []byte) (v1.Layer, error) {
			return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil },
				tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
		},
		"uncompressed": func(raw []byte) (v1.Layer, error) {
			return static.NewLayer(raw, types.OCIUncompressedLayer), nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			img := restore(t, scantest.VulnerableImage(t), store)
			r := mustScan(t, s, scantest.NewBlobs().Target(t, "team/"+name, img))
			scantest.CheckFindings(t, r, scantest.VulnerableFindings(), scantest.LayerDigests(t, img)[0])
		})
	}
}
