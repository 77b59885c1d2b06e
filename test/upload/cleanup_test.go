package upload

import (
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/imagegate/imagegate/config"
)

// TestNoBlobLeftBehind reproduces the last point of issue 12, finding 11:
// the blobs of a refused upload (and files of an accepted one that no
// manifest references) stayed in the blob store. Afterwards the store
// holds exactly what it held before, plus what accepted manifests
// reference; blobs that existed before the upload are kept.
func TestNoBlobLeftBehind(t *testing.T) {
	s := start(t, func(c *config.Config) { c.Validation.MaxLayers = 2 })
	base := randomImage(t, 8<<10, 2)
	s.mustUpload(t, "", dockerSave(t, false, saveImage{img: base, tags: []string{"team/keep:1"}}))
	before := s.blobs(t)
	assertBlobs := func(t *testing.T) {
		t.Helper()
		if after := s.blobs(t); !maps.Equal(after, before) {
			t.Fatalf("blob store changed: %d blobs before, %d after: %v", len(before), len(after), slices.Sorted(maps.Keys(after)))
		}
		s.pull(t, "team/keep:1")
	}
	t.Run("accepted, with an unreferenced file", func(t *testing.T) {
		archive := rearranged(t, dockerSave(t, false, saveImage{img: base, tags: []string{"team/keep:2"}}),
			nil, []entry{{name: "extra.bin", data: randomBytes(t, 64<<10)}})
		s.mustUpload(t, "", archive)
		assertBlobs(t)
	})
	t.Run("refused by the archive check", func(t *testing.T) {
		other := randomImage(t, 8<<10, 1)
		archive := dockerSave(t, false, saveImage{img: base, tags: []string{"team/keep:3"}}, saveImage{img: other, tags: []string{"team/other:1"}})
		layer := diffIDs(t, other)[0].Hex + "/layer.tar"
		archive = rearranged(t, archive, nil, []entry{{name: layer, data: tarOf(t, entry{name: "x", data: randomBytes(t, 16<<10)})}}, layer)
		if r := s.upload(t, "/upload-image", "", bytesReader(archive), nil); r.Status != http.StatusBadRequest {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
		assertBlobs(t)
	})
	t.Run("refused by the gate after an image was published", func(t *testing.T) {
		tooMany := randomImage(t, 8<<10, 3)
		archive := dockerSave(t, false, saveImage{img: base, tags: []string{"team/rev:ok"}}, saveImage{img: tooMany, tags: []string{"team/rev:bad"}})
		if r := s.upload(t, "/upload-image", "", bytesReader(archive), nil); r.Status != http.StatusForbidden {
			t.Fatalf("got %d %s", r.Status, r.Body)
		}
		assertBlobs(t)
	})
}
