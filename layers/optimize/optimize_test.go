package optimize

import (
	"archive/tar"
	"context"
	"path"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// wasteful is an image with every kind of waste optimize drops, and two
// hard links whose targets a later layer overwrites (tool) or deletes
// (a.so): 8 files, 64,400 bytes no container sees; the 13,000 bytes of
// the two link targets stay, carried by the links.
func wasteful(t testing.TB) v1.Image {
	return image(t,
		[]ent{
			dir("etc", 0o755), file("etc/config", 100, 1),
			dir("usr", 0o755), dir("usr/bin", 0o755), file("usr/bin/tool", 5000, 2).mod(0o755),
			hardlink("usr/bin/tool-link", "usr/bin/tool"), symlink("usr/bin/t", "tool"),
			dir("opq", 0o755), file("opq/old1", 4000, 3), file("opq/old2", 1000, 4),
			dir("dup", 0o755), file("dup/file", 2000, 5), file("dup/file", 2500, 6),
			dir("app", 0o755), dir("app/data", 0o755), file("app/data/big", 20000, 7), file("app/data/keep", 300, 8),
			dir("var", 0o755), dir("var/cache", 0o755), dir("var/cache/apt", 0o755),
		},
		[]ent{
			dir("etc", 0o750).owned(0, 4),
			file("var/cache/apt/pkg.deb", 30000, 9),
			file("usr/bin/tool", 6000, 10).mod(0o755).owned(1, 1),
			dir("tmp", 0o1777), file("tmp/scratch", 7000, 11),
			dir("lib", 0o755), file("lib/a.so", 8000, 12), hardlink("lib/a-link", "lib/a.so"),
		},
		[]ent{
			whiteout("var/cache/apt/pkg.deb"), whiteout("tmp/scratch"),
			opaque("opq"), dir("opq", 0o700), file("opq/new", 500, 13),
			whiteout("app/data"),
			file("etc/config", 120, 14).owned(2, 2),
		},
		[]ent{
			dir("app/data", 0o750), file("app/data/keep", 300, 15),
			whiteout("lib/a.so"),
		},
	)
}

// extractWrong are the paths where mutate.Extract departs from Docker on
// the original image: the hard links whose target a later layer replaced
// (Extract resolves a link by its target's name, so it links them to the
// new target), and the path the first layer repeats (Extract keeps a
// layer's first entry of a path, Docker the last). applyFS (Docker's
// way) checks them.
var extractWrong = []string{"usr/bin/tool-link", "lib/a-link", "dup/file"}

func optimize(t testing.TB, img v1.Image, o Options) *Result {
	t.Helper()
	o.TempDir = t.TempDir()
	res, err := Optimize(context.Background(), img, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	return res
}

// sameFS checks that two images flatten to the same file system, Docker's
// way and go-containerregistry's (except the paths it resolves wrongly).
func sameFS(t *testing.T, orig, opt v1.Image, extractExcept ...string) {
	t.Helper()
	diffFS(t, "applied", applyFS(t, orig), applyFS(t, opt))
	noRepeatedNames(t, opt)
	want, got := extractFS(t, orig), extractFS(t, opt)
	for _, p := range extractExcept {
		if _, ok := want[p]; !ok {
			t.Errorf("extract: %s not in the original", p)
		}
		delete(want, p)
		delete(got, p)
	}
	diffFS(t, "extracted", want, got)
}

func TestOptimizeDropsWasteKeepsFileSystem(t *testing.T) {
	img := wasteful(t)
	res := optimize(t, img, Options{})
	sameFS(t, img, res.Image, extractWrong...)
	if res.DroppedFiles != 8 || res.DroppedBytes != 64_400 {
		t.Errorf("dropped %d files, %d bytes; want 8, 64400", res.DroppedFiles, res.DroppedBytes)
	}
	before, after := analyze(t, img), analyze(t, res.Image)
	// layers.Analyze knows no hard links: it counts the two link targets
	// as hidden in the original, and as the links' own files after.
	if before.HiddenBytes != 64_400+13_000 || before.WastedBytes == 0 {
		t.Errorf("original: hidden %d, wasted %d", before.HiddenBytes, before.WastedBytes)
	}
	if after.HiddenBytes != 0 || after.WastedBytes != 0 || after.Efficiency != 1 {
		t.Errorf("optimized: hidden %d, wasted %d, efficiency %v; want 0, 0, 1", after.HiddenBytes, after.WastedBytes, after.Efficiency)
	}
	if after.TotalBytes != before.TotalBytes-64_400 {
		t.Errorf("optimized content %d bytes, want %d", after.TotalBytes, before.TotalBytes-64_400)
	}
	// Every layer changed; none emptied: four layers still.
	if len(res.Layers) != 4 {
		t.Fatalf("%d layers", len(res.Layers))
	}
	ls, _ := res.Image.Layers()
	var sum int64
	for i, lr := range res.Layers {
		if lr.Reused || lr.Empty || lr.After <= 0 {
			t.Errorf("layer %d: %+v", i+1, lr)
		}
		size, _ := ls[i].Size()
		if size != lr.After {
			t.Errorf("layer %d: reported %d bytes, blob has %d", i+1, lr.After, size)
		}
		sum += lr.After
	}
	if res.After != sum || res.Before-res.After < 60_000 {
		t.Errorf("before %d after %d (sum %d): random content should save about 64 kB compressed", res.Before, res.After, sum)
	}
	sameConfig(t, img, res.Image)
}

// sameConfig: the config differs only in rootfs and history.
func sameConfig(t *testing.T, orig, opt v1.Image) {
	t.Helper()
	a, _ := orig.ConfigFile()
	b, _ := opt.ConfigFile()
	if strings.Join(a.Config.Entrypoint, " ") != strings.Join(b.Config.Entrypoint, " ") ||
		strings.Join(a.Config.Cmd, " ") != strings.Join(b.Config.Cmd, " ") ||
		strings.Join(a.Config.Env, " ") != strings.Join(b.Config.Env, " ") || a.OS != b.OS || a.Architecture != b.Architecture {
		t.Errorf("config changed: %+v vs %+v", a.Config, b.Config)
	}
	ls, _ := opt.Layers()
	if len(b.RootFS.DiffIDs) != len(ls) {
		t.Fatalf("%d diff_ids for %d layers", len(b.RootFS.DiffIDs), len(ls))
	}
	for i, l := range ls {
		d, _ := l.DiffID()
		if d != b.RootFS.DiffIDs[i] {
			t.Errorf("diff_id %d: config %s, layer %s", i, b.RootFS.DiffIDs[i], d)
		}
	}
	nonEmpty := 0
	for _, h := range b.History {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	if nonEmpty != len(ls) {
		t.Errorf("history has %d layer lines for %d layers: %+v", nonEmpty, len(ls), b.History)
	}
}

func TestOptimizeSquash(t *testing.T) {
	img := wasteful(t)
	for _, tc := range []struct {
		squash []Range
		layers int
		merged string
	}{
		{[]Range{{All: true}}, 1, "imagegate optimize: squashed layers 1-4 (RUN step 1; RUN step 2; RUN step 3; RUN step 4)"},
		{[]Range{{First: 1, Last: 2}}, 3, "imagegate optimize: squashed layers 2-3 (RUN step 2; RUN step 3)"},
	} {
		res := optimize(t, img, Options{Squash: tc.squash})
		sameFS(t, img, res.Image, extractWrong...)
		ls, _ := res.Image.Layers()
		if len(ls) != tc.layers || res.DroppedBytes != 64_400 {
			t.Errorf("squash %v: %d layers, dropped %d", tc.squash, len(ls), res.DroppedBytes)
		}
		cfg, _ := res.Image.ConfigFile()
		var lines []string
		for _, h := range cfg.History {
			lines = append(lines, h.CreatedBy)
		}
		if !strings.Contains(strings.Join(lines, "\n"), tc.merged) {
			t.Errorf("squash %v: history lacks %q:\n%s", tc.squash, tc.merged, strings.Join(lines, "\n"))
		}
		sameConfig(t, img, res.Image)
		if r := analyze(t, res.Image); r.WastedBytes != 0 || r.HiddenBytes != 0 {
			t.Errorf("squash %v: wasted %d hidden %d", tc.squash, r.WastedBytes, r.HiddenBytes)
		}
	}
}

// TestOptimizeZstd: zstd layers in an OCI manifest, the file system
// unchanged.
func TestOptimizeZstd(t *testing.T) {
	img := wasteful(t)
	res := optimize(t, img, Options{Compression: Zstd})
	sameFS(t, img, res.Image, extractWrong...)
	m, err := res.Image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
		t.Errorf("manifest %s, config %s", m.MediaType, m.Config.MediaType)
	}
	for _, l := range m.Layers {
		if l.MediaType != types.OCILayerZStd {
			t.Errorf("layer %s", l.MediaType)
		}
	}
}

// TestOptimizeKeepsWhatLinksNeed: a hard link in a later layer to a file
// an even later layer deletes keeps the file and the whiteout; layers
// with nothing to drop are reused as they are.
func TestOptimizeKeepsWhatLinksNeed(t *testing.T) {
	img := image(t,
		[]ent{file("x", 3000, 1), file("y", 10, 2)},
		[]ent{hardlink("z", "x")},
		[]ent{whiteout("x")},
	)
	res := optimize(t, img, Options{})
	sameFS(t, img, res.Image, "z")
	if res.DroppedFiles != 0 || res.After != res.Before {
		t.Errorf("dropped %d files, %d → %d bytes", res.DroppedFiles, res.Before, res.After)
	}
	orig, _ := img.Layers()
	for i, lr := range res.Layers {
		d, _ := orig[i].Digest()
		if !lr.Reused || lr.Digest != d.String() {
			t.Errorf("layer %d: %+v, want the original %s reused", i+1, lr, d)
		}
	}
}

// TestOptimizeEmptiesLayer: a layer whose only entry is a whiteout of a
// dropped file leaves the image; its history line becomes empty_layer.
func TestOptimizeEmptiesLayer(t *testing.T) {
	img := image(t,
		[]ent{file("keep", 100, 1), file("junk", 50_000, 2)},
		[]ent{whiteout("junk")},
	)
	res := optimize(t, img, Options{})
	sameFS(t, img, res.Image)
	ls, _ := res.Image.Layers()
	if len(ls) != 1 || !res.Layers[1].Empty || res.DroppedBytes != 50_000 {
		t.Fatalf("%d layers, %+v", len(ls), res.Layers)
	}
	sameConfig(t, img, res.Image)
}

// TestOptimizeDryRun measures without writing: the same sizes as the
// real run, no image.
func TestOptimizeDryRun(t *testing.T) {
	img := wasteful(t)
	dry := optimize(t, img, Options{DryRun: true})
	real := optimize(t, img, Options{})
	if dry.Image != nil || dry.After != real.After || dry.Before != real.Before || dry.DroppedBytes != real.DroppedBytes {
		t.Errorf("dry run %+v, real %+v", dry, real)
	}
}

// TestOptimizeUploadKeepsOneFile: with Upload, each rewritten layer's
// file is gone once uploaded.
func TestOptimizeUploadKeepsOneFile(t *testing.T) {
	img := wasteful(t)
	var got []v1.Layer
	res := optimize(t, img, Options{Upload: func(_ context.Context, l v1.Layer) error {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		rc.Close()
		got = append(got, l)
		return nil
	}})
	if len(got) != 4 || len(res.files) != 0 {
		t.Fatalf("%d uploads, files left %v", len(got), res.files)
	}
	if _, err := got[0].Compressed(); err == nil {
		t.Error("an uploaded layer's file is still readable")
	}
}

// TestOptimizeKeepsImplicitDirectories: a file under parents no entry
// lists, deleted later, leaves the parents behind (Docker and containerd
// create them as they apply the file); the new image has them created
// the same way (a whiteout below them) although the file is dropped.
func TestOptimizeKeepsImplicitDirectories(t *testing.T) {
	img := image(t,
		[]ent{file("var/cache/apt/x.deb", 40_000, 1), file("app/bin", 100, 2)},
		[]ent{whiteout("var/cache/apt/x.deb")},
	)
	res := optimize(t, img, Options{})
	sameFS(t, img, res.Image)
	fs := applyFS(t, res.Image)
	if _, ok := fs["var/cache/apt"]; !ok || res.DroppedBytes != 40_000 || len(res.Layers) != 2 || !res.Layers[1].Empty {
		t.Errorf("fs %v, result %+v", fs, res.Layers)
	}
}

// noRepeatedNames: no layer of img repeats a name (cleaned): Docker
// refuses to pull such a layer ("duplicates of file paths not
// supported").
func noRepeatedNames(t *testing.T, img v1.Image) {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for n, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if err != nil {
				break
			}
			name := path.Clean(hdr.Name)
			if seen[name] {
				t.Errorf("layer %d repeats %s", n+1, name)
			}
			seen[name] = true
		}
		rc.Close()
	}
}

// TestOptimizeSquashRootEntries: layers that each list the root ("./")
// squash into one layer that lists it once, with the last layer's mode.
func TestOptimizeSquashRootEntries(t *testing.T) {
	img := image(t,
		[]ent{dir(".", 0o755), file("a", 10, 1)},
		[]ent{dir(".", 0o700), file("b", 10, 2)},
	)
	res := optimize(t, img, Options{Squash: []Range{{All: true}}})
	sameFS(t, img, res.Image)
	fs := extractFS(t, res.Image)
	if fs["."].Mode != 0o700 {
		t.Errorf("root %+v", fs["."])
	}
}

// TestOptimizeMismatchedHistory: a history with fewer layer lines than
// layers stays as it is when no layer is squashed or left out, and makes
// a squash an error.
func TestOptimizeMismatchedHistory(t *testing.T) {
	img := image(t, []ent{file("a", 10, 1)}, []ent{file("b", 10, 2)})
	cfg, _ := img.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.History = cfg.History[:1]
	img, err := mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := optimize(t, img, Options{})
	got, _ := res.Image.ConfigFile()
	if len(got.History) != 2 || got.History[0].CreatedBy != "RUN step 1" || !got.History[1].EmptyLayer {
		t.Errorf("history %+v", got.History)
	}
	_, err = Optimize(context.Background(), img, Options{Squash: []Range{{All: true}}, TempDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "history has 1 layer lines for 2 layers") {
		t.Errorf("squash: %v", err)
	}
}
