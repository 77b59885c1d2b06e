package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"testing"

	"github.com/wagoodman/dive/dive/filetree"
)

// Dive's own code (github.com/wagoodman/dive v0.13.1, a test-only
// dependency: its filetree package pulls no Docker client) analyses the
// same layer tars; Analyze must agree on efficiency, wasted bytes and
// total size.

// diveAnalysis is what dive/image/analysis.go Analyze computes from
// trees built as dive/image/docker/image_archive.go builds them
// (getFileList, processLayerTar).
type diveAnalysis struct {
	efficiency         float64
	wasted, size, user uint64
	inefficient        map[string]int64
}

func diveAnalyze(t *testing.T, tars [][]byte) diveAnalysis {
	t.Helper()
	var trees []*filetree.FileTree
	var a diveAnalysis
	for i, b := range tars {
		tree := filetree.NewFileTree()
		tr := tar.NewReader(bytes.NewReader(b))
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			name := path.Clean(hdr.Name)
			if name == "." {
				continue
			}
			info := filetree.NewFileInfoFromTarHeader(tr, hdr, name)
			tree.FileSize += uint64(info.Size)
			if _, _, err := tree.AddPath(info.Path, info); err != nil {
				t.Fatal(err)
			}
		}
		a.size += tree.FileSize
		if i > 0 {
			a.user += tree.FileSize
		}
		trees = append(trees, tree)
	}
	eff, list := filetree.Efficiency(trees)
	a.efficiency = eff
	a.inefficient = make(map[string]int64)
	for _, d := range list {
		a.wasted += uint64(d.CumulativeSize)
		if d.CumulativeSize > 0 {
			a.inefficient[d.Path] = d.CumulativeSize
		}
	}
	return a
}

// compareWithDive analyses layers with both and fails on any difference.
// diveLayers are the same layers for Dive, which ignores opaque markers:
// the caller writes the whiteouts a marker stands for.
func compareWithDive(t *testing.T, layers, diveLayers [][]ent) {
	t.Helper()
	var ls []Layer
	var tars [][]byte
	for i := range layers {
		x, err := Index(context.Background(), bytes.NewReader(layerTar(t, layers[i]...)), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, Layer{Index: x})
		tars = append(tars, layerTar(t, diveLayers[i]...))
	}
	r, err := Analyze(ls, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	d := diveAnalyze(t, tars)
	if r.Efficiency != d.efficiency || uint64(r.WastedBytes) != d.wasted {
		t.Errorf("efficiency %v wasted %d; Dive: %v and %d", r.Efficiency, r.WastedBytes, d.efficiency, d.wasted)
	}
	if uint64(r.TotalBytes) != d.size || uint64(r.UserBytes) != d.user {
		t.Errorf("total %d user %d; Dive: %d and %d", r.TotalBytes, r.UserBytes, d.size, d.user)
	}
	got := make(map[string]int64)
	for _, in := range r.Inefficiencies {
		got[in.Path] = in.WastedBytes
	}
	if fmt.Sprint(got) != fmt.Sprint(d.inefficient) {
		t.Errorf("inefficiencies %v; Dive: %v", got, d.inefficient)
	}
}

func TestAgreesWithDiveOnKnownWaste(t *testing.T) {
	layers := knownWasteLayers()
	dive := knownWasteLayers()
	// Layer 4's opaque /etc hides /etc/os-release and /etc/conf.
	dive[4] = []ent{whiteout("etc/os-release"), whiteout("etc/conf"), dir("etc"), file("etc/new", 10), file("app", 300)}
	compareWithDive(t, layers, dive)
}

func TestAgreesWithDiveOnDiveGolden(t *testing.T) {
	layers := [][]ent{
		{file("etc/nginx/nginx.conf", 2000), file("etc/nginx/public", 3000)},
		{file("etc/nginx/nginx.conf", 5000), file("etc/athing", 10000)},
		{whiteout("etc/nginx")},
	}
	compareWithDive(t, layers, layers)
}

// Random images over a small namespace: files written, rewritten,
// deleted, directories deleted and written again, with and without
// directory entries (Dive weighs a deleted directory only when the last
// layer that touched it listed it).
func TestAgreesWithDiveOnRandomImages(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			layers := randomImage(rand.New(rand.NewPCG(seed, 17)))
			compareWithDive(t, layers, layers)
		})
	}
}

// randomImage writes only what Docker could apply and Dive reads
// without its known failures: no whiteout of an absent path, no file
// where a directory is, no opaque marker.
func randomImage(rnd *rand.Rand) [][]ent {
	dirs := []string{"a", "b", "a/sub", "c/deep/er"}
	names := []string{"f1", "f2", "f3"}
	present := map[string]bool{} // files
	var layers [][]ent
	for range 2 + rnd.IntN(6) {
		var l []ent
		written := map[string]bool{}
		for range 1 + rnd.IntN(8) {
			d := dirs[rnd.IntN(len(dirs))]
			switch op := rnd.IntN(10); {
			case op < 6: // write a file, listing its directory or not
				p := d + "/" + names[rnd.IntN(len(names))]
				if written[p] {
					continue
				}
				if rnd.IntN(2) == 0 && !written[d] {
					l = append(l, dir(d))
					written[d] = true
				}
				l = append(l, file(p, 1+rnd.IntN(1000)))
				written[p] = true
			case op < 8: // delete a present file
				for p := range present {
					if !written[p] && !written[".wh."+p] && !deletedAbove(written, p) {
						l = append(l, whiteout(p))
						written[".wh."+p] = true
						break
					}
				}
			default: // delete a directory that holds a present file
				if written[d] || written[".wh."+d] || deletedAbove(written, d) || !holds(present, d) || anyWrittenBelow(written, d) {
					continue
				}
				l = append(l, whiteout(d))
				written[".wh."+d] = true
			}
		}
		// Apply to the model.
		for p := range present {
			if written[".wh."+p] || deletedAbove(written, p) {
				delete(present, p)
			}
		}
		for _, e := range l {
			if e.typ == tar.TypeReg && path.Base(e.name)[:1] != "." {
				present[e.name] = true
			}
		}
		layers = append(layers, l)
	}
	return layers
}

// deletedAbove says a directory above p is whited out in the layer.
func deletedAbove(written map[string]bool, p string) bool {
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		if written[".wh."+d] {
			return true
		}
	}
	return false
}

func holds(present map[string]bool, d string) bool {
	for p := range present {
		if within(p, d) {
			return true
		}
	}
	return false
}

func anyWrittenBelow(written map[string]bool, d string) bool {
	for p := range written {
		if within(p, d) && p != d {
			return true
		}
	}
	return false
}
