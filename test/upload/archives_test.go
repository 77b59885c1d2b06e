package upload

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
)

// entry is one tar entry of a hand-made archive.
type entry struct {
	name string
	data []byte
	typ  byte // tar.TypeReg when 0
	link string
}

// tarOf writes entries as a tar archive.
func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644, Size: int64(len(e.data)), Linkname: e.link, Format: tar.FormatPAX}
		if e.typ == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zst(t testing.TB, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeAll(b, nil)
}

// randomImage is an image of n random layers of size bytes each, with a
// Docker config that names its platform.
func randomImage(t testing.TB, size int64, n int) v1.Image {
	t.Helper()
	img, err := random.Image(size, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// saveImage is an image of a docker save archive and its RepoTags.
type saveImage struct {
	img  v1.Image
	tags []string
}

// dockerSave writes images as the legacy `docker save` does: plain tar
// layers at <id>/layer.tar, the config at <id>.json, manifest.json last.
// oci adds the Docker ≥ 25 form instead: blobs/sha256/…, index.json and
// oci-layout, manifest.json pointing into blobs/.
func dockerSave(t testing.TB, oci bool, images ...saveImage) []byte {
	t.Helper()
	var entries []entry
	written := map[string]bool{}
	add := func(name string, data []byte) {
		if !written[name] {
			written[name] = true
			entries = append(entries, entry{name: name, data: data})
		}
	}
	type saveEntry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var manifest []saveEntry
	for _, si := range images {
		cfgName, _ := si.img.ConfigName()
		raw, err := si.img.RawConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		e := saveEntry{RepoTags: si.tags}
		if oci {
			e.Config = "blobs/sha256/" + cfgName.Hex
		} else {
			e.Config = cfgName.Hex + ".json"
		}
		add(e.Config, raw)
		layers, err := si.img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			diffID, _ := l.DiffID()
			rc, err := l.Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			name := diffID.Hex + "/layer.tar"
			if oci {
				name = "blobs/sha256/" + diffID.Hex
			}
			add(name, data)
			e.Layers = append(e.Layers, name)
		}
		manifest = append(manifest, e)
	}
	mj, _ := json.Marshal(manifest)
	if oci {
		add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
		add("index.json", []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`))
	}
	add("manifest.json", mj)
	return tarOf(t, entries...)
}

// ggcrTarball writes images with go-containerregistry's tarball package
// (docker save layout, gzip layers), as `crane pull --format=legacy` does.
func ggcrTarball(t testing.TB, refs map[string]v1.Image) []byte {
	t.Helper()
	m := map[name.Reference]v1.Image{}
	for r, img := range refs {
		tag, err := name.NewTag(r)
		if err != nil {
			t.Fatal(err)
		}
		m[tag] = img
	}
	var buf bytes.Buffer
	if err := tarball.MultiRefWrite(m, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ociLayoutTar writes an OCI image layout holding idx and tars it up.
func ociLayoutTar(t testing.TB, idx v1.ImageIndex) []byte {
	t.Helper()
	dir := t.TempDir()
	if _, err := layout.Write(dir, idx); err != nil {
		t.Fatal(err)
	}
	return tarDir(t, dir)
}

// tarDir tars a directory's files (paths relative to it).
func tarDir(t testing.TB, dir string) []byte {
	t.Helper()
	var entries []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		entries = append(entries, entry{name: filepath.ToSlash(rel), data: data})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return tarOf(t, entries...)
}

// withRefName annotates an index entry with a ref name.
func withRefName(ref string) mutate.IndexAddendum {
	return mutate.IndexAddendum{Descriptor: v1.Descriptor{Annotations: map[string]string{"org.opencontainers.image.ref.name": ref}}}
}

// ociImage is an OCI image of n random OCI layers for platform p.
func ociImage(t testing.TB, size int64, n int, p string) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for range n {
		l, err := random.Layer(size, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	plat, err := v1.ParsePlatform(p)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = plat.OS, plat.Architecture, plat.Variant
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// ociIndex is an OCI index of one image per platform.
func ociIndex(t testing.TB, platforms ...string) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		plat, _ := v1.ParsePlatform(p)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: ociImage(t, 2048, 2, p), Descriptor: v1.Descriptor{Platform: plat}})
	}
	return idx
}

// emptyIndex starts an OCI layout.
var emptyIndex = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)

// mustAppend is img with layer appended.
func mustAppend(t testing.TB, img v1.Image, layer v1.Layer) v1.Image {
	t.Helper()
	out, err := mutate.AppendLayers(img, layer)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// dockerSaveWithLink writes first (team/linked:1) and second
// (team/linked:2), whose last layer is first's layer, as a symlink
// <id>/layer.tar → ../<first's id>/layer.tar like docker save before 25.
func dockerSaveWithLink(t testing.TB, first, second v1.Image) []byte {
	t.Helper()
	plain := dockerSave(t, false, saveImage{img: first, tags: []string{"team/linked:1"}})
	tr := tar.NewReader(bytes.NewReader(plain))
	var entries []entry
	var manifest []map[string]any
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if h.Name == "manifest.json" {
			_ = json.Unmarshal(data, &manifest)
			continue
		}
		entries = append(entries, entry{name: h.Name, data: data})
	}
	firstLayers, _ := first.Layers()
	firstDiff, _ := firstLayers[0].DiffID()
	cfgName, _ := second.ConfigName()
	rawCfg, _ := second.RawConfigFile()
	entries = append(entries, entry{name: cfgName.Hex + ".json", data: rawCfg})
	var paths []string
	layers, _ := second.Layers()
	for i, l := range layers {
		d, _ := l.DiffID()
		name := "second" + string(rune('a'+i)) + "/layer.tar"
		if d == firstDiff {
			entries = append(entries, entry{name: name, typ: tar.TypeSymlink, link: "../" + firstDiff.Hex + "/layer.tar"})
		} else {
			rc, _ := l.Uncompressed()
			data, _ := io.ReadAll(rc)
			rc.Close()
			entries = append(entries, entry{name: name, data: data})
		}
		paths = append(paths, name)
	}
	manifest = append(manifest, map[string]any{"Config": cfgName.Hex + ".json", "RepoTags": []string{"team/linked:2"}, "Layers": paths})
	mj, _ := json.Marshal(manifest)
	entries = append(entries, entry{name: "manifest.json", data: mj})
	return tarOf(t, entries...)
}
