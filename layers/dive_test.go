package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"sort"
	"strings"
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

// Random images over a small namespace: files (and symlinks) written,
// rewritten, written twice in one layer, deleted, directories deleted (by whiteout or opaque marker) and written
// again, with and without directory entries (Dive weighs a deleted
// directory only when the last layer that touched it listed it). Dive
// reads each marker as the whiteouts of the directory's lower children.
func TestAgreesWithDiveOnRandomImages(t *testing.T) {
	for seed := range uint64(300) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			layers, dive := randomImage(rand.New(rand.NewPCG(seed, 17)))
			compareWithDive(t, layers, dive)
		})
	}
}

// randomImage writes only what Docker could apply and Dive reads
// without its known failures: no whiteout of an absent path, no file
// where a directory is. It returns the layers and Dive's version of them.
func randomImage(rnd *rand.Rand) (layers, dive [][]ent) {
	dirs := []string{"a", "b", "a/sub", "c/deep/er"}
	names := []string{"f1", "f2", "f3"}
	present := map[string]bool{} // paths of the merged tree, directories included
	for range 2 + rnd.IntN(6) {
		var l, d []ent
		gone := map[string]bool{}    // removed by this layer
		written := map[string]bool{} // paths this layer has an entry at or below
		touch := func(p string) {
			for ; p != "."; p = path.Dir(p) {
				written[p] = true
			}
		}
		for range 1 + rnd.IntN(8) {
			dr := dirs[rnd.IntN(len(dirs))]
			switch op := rnd.IntN(12); {
			case op < 6: // write a file, listing its directory or not
				p := dr + "/" + names[rnd.IntN(len(names))]
				if written[p] {
					continue
				}
				if rnd.IntN(2) == 0 && !written[dr] {
					l, d = append(l, dir(dr)), append(d, dir(dr))
				}
				f := file(p, 1+rnd.IntN(1000))
				switch rnd.IntN(6) {
				case 0:
					f = symlink(p, "elsewhere")
				case 1: // the same path twice in the tar: the last wins
					l, d = append(l, f), append(d, f)
					f = file(p, 1+rnd.IntN(1000))
				}
				l, d = append(l, f), append(d, f)
				touch(p)
			case op < 10: // delete a file or a directory with a whiteout
				var p string
				if op < 8 {
					p = dr + "/" + names[rnd.IntN(len(names))]
				} else {
					p = dr
				}
				if !present[p] || written[p] || gone[p] || removedAbove(gone, p) {
					continue
				}
				l, d = append(l, whiteout(p)), append(d, whiteout(p))
				gone[p] = true
				touch(path.Dir(p))
			default: // make a directory opaque
				if !present[dr] || written[dr] || gone[dr] || removedAbove(gone, dr) {
					continue
				}
				l = append(l, opaque(dr))
				for _, c := range childrenOf(present, dr) {
					if !gone[c] {
						d = append(d, whiteout(c))
						gone[c] = true
					}
				}
				touch(dr)
			}
		}
		// Apply to the model: removals, then writes.
		for p := range present {
			if gone[p] || removedAbove(gone, p) {
				delete(present, p)
			}
		}
		for _, e := range l {
			if e.typ == tar.TypeDir || strings.HasPrefix(path.Base(e.name), ".wh.") {
				continue
			}
			for p := e.name; p != "."; p = path.Dir(p) {
				present[p] = true
			}
		}
		for _, e := range l {
			if e.typ == tar.TypeDir {
				present[path.Clean(e.name)] = true
			}
		}
		layers, dive = append(layers, l), append(dive, d)
	}
	return layers, dive
}

// removedAbove says a directory above p is removed in the layer.
func removedAbove(gone map[string]bool, p string) bool {
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		if gone[d] {
			return true
		}
	}
	return false
}

// childrenOf lists the children of directory d in the model.
func childrenOf(present map[string]bool, d string) []string {
	var cs []string
	for p := range present {
		if path.Dir(p) == d {
			cs = append(cs, p)
		}
	}
	sort.Strings(cs)
	return cs
}
