package upload

import (
	"bytes"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata"
)

// TestLayouts uploads one image in every supported form and pulls it back.
func TestLayouts(t *testing.T) {
	s := start(t, nil)
	img := randomImage(t, 64<<10, 3)
	wantDiffs := diffIDs(t, img)
	legacy := dockerSave(t, false, saveImage{img: img, tags: []string{"ignored.example/x:y"}})
	oci25 := dockerSave(t, true, saveImage{img: img, tags: []string{"registry.example:5000/team/oci25:v1"}})
	cases := []struct {
		name, query string
		archive     []byte
		ref         string
	}{
		{"docker save legacy", "repository=team/app&tag=legacy", legacy, "team/app:legacy"},
		{"docker save legacy gzip", "repository=team/app&tag=legacy-gz", gz(t, legacy), "team/app:legacy-gz"},
		{"docker save legacy zstd", "repository=team/app&tag=legacy-zst", zst(t, legacy), "team/app:legacy-zst"},
		{"docker save oci form, RepoTags target", "", oci25, "team/oci25:v1"},
		{"docker save oci form gzip", "repository=team/app&tag=oci25-gz", gz(t, oci25), "team/app:oci25-gz"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.mustUpload(t, c.query, c.archive)
			if len(r.OK.Images) != 1 || r.OK.Images[0].RecordID == "" || r.OK.Images[0].Digest == "" {
				t.Fatalf("answer: %s", r.Body)
			}
			got := s.pull(t, c.ref)
			if d := diffIDs(t, got); !slices.Equal(d, wantDiffs) {
				t.Fatalf("diff_ids %v, want %v", d, wantDiffs)
			}
			mt, _ := got.MediaType()
			if mt != types.DockerManifestSchema2 {
				t.Fatalf("media type %s", mt)
			}
			layers, _ := got.Layers()
			for _, l := range layers {
				if lmt, _ := l.MediaType(); lmt != types.DockerLayer {
					t.Fatalf("layer media type %s, want gzip", lmt)
				}
			}
			recs := s.records(t, "team/"+c.ref[len("team/"):len(c.ref)-len(":"+tagOf(c.ref))])
			if len(recs) == 0 || recs[0].Source != metadata.SourceTarUpload || recs[0].Status != metadata.StatusAccepted ||
				recs[0].ID != r.OK.Images[0].RecordID {
				t.Fatalf("record %+v, answer %s", recs[0], r.Body)
			}
		})
	}
}

func tagOf(ref string) string {
	for i := len(ref) - 1; i >= 0; i-- {
		if ref[i] == ':' {
			return ref[i+1:]
		}
	}
	return ""
}

// TestCompressedLayersKeepDigests: a go-containerregistry tarball (gzip
// layers) of two images uploads to the very manifests a registry push
// would make.
func TestCompressedLayersKeepDigests(t *testing.T) {
	s := start(t, nil)
	a, b := randomImage(t, 32<<10, 2), randomImage(t, 32<<10, 1)
	archive := ggcrTarball(t, map[string]v1Tag{"example.com/team/a:1": a, "example.com/team/b:2": b})
	r := s.mustUpload(t, "", archive)
	if len(r.OK.Images) != 2 {
		t.Fatalf("answer %s", r.Body)
	}
	for ref, img := range map[string]v1Tag{"team/a:1": a, "team/b:2": b} {
		got := s.pull(t, ref)
		gd, _ := got.Digest()
		wd, _ := img.Digest()
		if gd != wd {
			t.Fatalf("%s: digest %s, want %s", ref, gd, wd)
		}
	}
}

// TestOCIIndex uploads a multi-arch OCI layout: children first, the index
// tagged from its ref.name annotation, every digest kept.
func TestOCIIndex(t *testing.T) {
	s := start(t, nil)
	idx := ociIndex(t, "linux/amd64", "linux/arm64/v8")
	top := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: idx, Descriptor: withRefName("team/multi:1.0").Descriptor})
	archive := ociLayoutTar(t, top)
	for _, c := range []struct{ name, query, ref string }{
		{"ref.name", "", "team/multi:1.0"},
		{"query overrides", "repository=team/other&tag=x", "team/other:x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.mustUpload(t, c.query, gz(t, archive))
			got := s.pullIndex(t, c.ref)
			gd, _ := got.Digest()
			wd, _ := idx.Digest()
			if gd != wd || r.OK.Images[0].Digest != wd.String() || r.OK.Images[0].MediaType != string(types.OCIImageIndex) {
				t.Fatalf("digest %s (answer %s), want %s", gd, r.Body, wd)
			}
		})
	}
}

// TestZstdLayerCompression: with upload.layercompression zstd, docker save
// layers become OCI zstd layers (and the manifest an OCI one).
func TestZstdLayerCompression(t *testing.T) {
	s := start(t, func(c *config.Config) { c.Upload.LayerCompression = "zstd" })
	img := randomImage(t, 64<<10, 2)
	s.mustUpload(t, "repository=team/z&tag=1", dockerSave(t, false, saveImage{img: img}))
	got := s.pullUnverified(t, "team/z:1")
	verifyZstd(t, got)
	if mt, _ := got.MediaType(); mt != types.OCIManifestSchema1 {
		t.Fatalf("media type %s", mt)
	}
	layers, _ := got.Layers()
	for _, l := range layers {
		if mt, _ := l.MediaType(); mt != types.OCILayerZStd {
			t.Fatalf("layer media type %s", mt)
		}
	}
	if !slices.Equal(diffIDs(t, got), diffIDs(t, img)) {
		t.Fatal("diff_ids differ")
	}
}

// TestNoLayerCompression: with upload.layercompression none, docker save
// layers are stored as they are, as OCI plain tar layers of an OCI
// manifest (the gate refuses Docker's plain tar type), each blob the
// layer itself: its digest is its diff_id.
func TestNoLayerCompression(t *testing.T) {
	s := start(t, func(c *config.Config) { c.Upload.LayerCompression = "none" })
	img := randomImage(t, 64<<10, 2)
	s.mustUpload(t, "repository=team/plain&tag=1", dockerSave(t, false, saveImage{img: img}))
	got := s.pullUnverified(t, "team/plain:1") // go-containerregistry would gunzip the layers: checked below
	if mt, _ := got.MediaType(); mt != types.OCIManifestSchema1 {
		t.Fatalf("media type %s", mt)
	}
	layers, _ := got.Layers()
	want := diffIDs(t, img)
	for i, l := range layers {
		mt, _ := l.MediaType()
		d, _ := l.Digest()
		if mt != types.OCIUncompressedLayer || d != want[i] {
			t.Fatalf("layer %d: media type %s, digest %s; want %s, %s", i, mt, d, types.OCIUncompressedLayer, want[i])
		}
	}
	if !slices.Equal(diffIDs(t, got), want) {
		t.Fatal("diff_ids differ")
	}
}

// TestMultipart uploads through a browser-style form.
func TestMultipart(t *testing.T) {
	s := start(t, nil)
	body, ctype := multipartBody(t, map[string]string{"repository": "team/form", "tag": "1"}, gz(t, dockerSave(t, false, saveImage{img: randomImage(t, 1024, 1)})))
	r := s.upload(t, "/api/v1/uploads", "", bytes.NewReader(body), http.Header{"Content-Type": {ctype}})
	if r.Status != http.StatusCreated {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	s.pull(t, "team/form:1")
}

// TestSeveralTagsAndLinks: one image with two RepoTags gets both tags (one
// record naming both); a layer.tar symlink to a layer written earlier (as
// older docker save writes shared layers) is followed.
func TestSeveralTagsAndLinks(t *testing.T) {
	s := start(t, nil)
	a, b := randomImage(t, 8<<10, 1), randomImage(t, 8<<10, 1)
	la, _ := a.Layers()
	shared := mustAppend(t, b, la[0]) // b's own layer, then a's
	base := dockerSave(t, false, saveImage{img: a, tags: []string{"team/tags:x", "team/tags:y"}})
	linked := dockerSaveWithLink(t, a, shared)
	r := s.mustUpload(t, "", base)
	if got := r.OK.Images[0].Tags; !slices.Equal(got, []string{"x", "y"}) {
		t.Fatalf("tags %v", got)
	}
	x, _ := s.pull(t, "team/tags:x").Digest()
	y, _ := s.pull(t, "team/tags:y").Digest()
	if x != y {
		t.Fatal("the two tags differ")
	}
	recs := s.records(t, "team/tags")
	if len(recs) != 1 || !slices.Equal(recs[0].Tags, []string{"x", "y"}) {
		t.Fatalf("records %+v", recs)
	}
	s.mustUpload(t, "", linked)
	got := s.pull(t, "team/linked:2")
	if !slices.Equal(diffIDs(t, got), diffIDs(t, shared)) {
		t.Fatal("diff_ids of the image with a linked layer differ")
	}
}
