package upload

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
)

// TestUploadHandsDiffIDsToTheGate: the tarball door computes every layer's
// diff_id while it stores the layer (compressing it on the way) and hands
// it to the gate's store, so the gate's own diff_id check reads no layer a
// second time. With a one-byte decompression limit at the gate, the upload
// passes only because nothing is decompressed there again.
func TestUploadHandsDiffIDsToTheGate(t *testing.T) {
	s := start(t, func(c *config.Config) { c.Validation.MaxUncompressedLayerBytes = 1 })
	img := randomImage(t, 64<<10, 2)
	r := s.mustUpload(t, "repository=team/diffids&tag=v1", dockerSave(t, false, saveImage{img: img}))
	if len(r.OK.Images) != 1 {
		t.Fatalf("answer: %s", r.Body)
	}
	got := s.pull(t, "team/diffids:v1")
	layers, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	want := diffIDs(t, img)
	for i, l := range layers {
		d, _ := l.Digest()
		blob := digest.Digest(d.String())
		entry, err := os.ReadFile(filepath.Join(s.dir, "registry", "imagegate", "diffids", "sha256", blob.Encoded(), "sha256"))
		if err != nil || string(entry) != want[i].String() {
			t.Fatalf("layer %d: remembered diff_id %q (%v), want %s", i, entry, err, want[i])
		}
	}
}
