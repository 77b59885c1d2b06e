package layers

import (
	"errors"
	"fmt"
	"math"
	"path"
	"reflect"
	"testing"
)

// knownWaste is an image with every kind of waste the issue names: a
// file written then deleted (/big), overwritten across layers
// (/etc/os-release, the same file again), an apt cache kept and apt lists
// deleted in a later layer, a duplicate inside a layer (/etc/conf), an
// opaque directory (/etc in layer 4), hardlinks and symlinks.
var knownWasteCmds = []string{
	"ADD rootfs.tar /",
	"/bin/sh -c apt-get update && apt-get install -y curl",
	"/bin/sh -c dd if=/dev/zero of=/big",
	"/bin/sh -c rm -rf /big /var/lib/apt/lists",
	"COPY app /app",
}

func knownWasteLayers() [][]ent {
	return [][]ent{
		{dir("etc"), file("etc/os-release", 100), dir("bin"), file("bin/sh", 1000), symlink("bin/bash", "sh"),
			hardlink("bin/sh2", "bin/sh"), dir("var"), dir("var/cache"), dir("var/cache/apt")},
		{dir("var/cache/apt"), file("var/cache/apt/pkgcache.bin", 5000), dir("var/lib/apt/lists"),
			file("var/lib/apt/lists/deb_Packages", 3000), dir("usr/bin"), file("usr/bin/curl", 2000), dir("etc"),
			file("etc/os-release", 100)},
		{file("big", 10000), dir("etc"), file("etc/conf", 50), file("etc/conf", 70)},
		{whiteout("big"), dir("var/lib/apt"), whiteout("var/lib/apt/lists")},
		{opaque("etc"), dir("etc"), file("etc/new", 10), file("app", 300)},
	}
}

func TestAnalyzeKnownWaste(t *testing.T) {
	r := image(t, knownWasteCmds, knownWasteLayers()...)

	// Dive's occurrences, leaves of each layer (docs/layers.md):
	//   etc/os-release 100, 100, 0 (the opaque /etc)   count 3 cum 200  min 0
	//   big            10000, 0 (whiteout of a file)   count 2 cum 10000 min 0
	//   etc/conf       70, 0 (opaque)                  count 2 cum 70   min 0
	//   var/lib/apt/lists 3000 (whiteout of a listed directory) count 1
	//   bin/sh 1000, pkgcache.bin 5000, deb_Packages 3000, curl 2000,
	//   etc/new 10, app 300, and zero-byte leaves     count 1 each
	// Σmin = 1000+5000+3000+2000+3000+10+300 = 14310
	// Σcum = 200+10000+70+14310 = 24580
	if want := 14310.0 / 24580.0; r.Efficiency != want {
		t.Errorf("efficiency %v, want %v", r.Efficiency, want)
	}
	if r.WastedBytes != 10270 {
		t.Errorf("wasted %d, want 10270", r.WastedBytes)
	}
	// Layers' content: 1100 + 10100 + 10120 (50 of them a duplicate) + 0 + 310.
	if r.TotalBytes != 21630 || r.UserBytes != 20530 {
		t.Errorf("total %d user %d, want 21630 and 20530", r.TotalBytes, r.UserBytes)
	}
	if want := 10270.0 / 21630 * 100; math.Abs(r.WastedPercent-want) > 1e-9 {
		t.Errorf("wasted percent %v, want %v", r.WastedPercent, want)
	}
	if want := 10270.0 / 20530 * 100; math.Abs(r.WastedUserPercent-want) > 1e-9 {
		t.Errorf("wasted user percent %v, want %v", r.WastedUserPercent, want)
	}
	// Final tree: bin/sh 1000, pkgcache.bin 5000, curl 2000, etc/new 10, app 300.
	if r.ImageBytes != 8310 || r.ImageFiles != 5 || r.HiddenBytes != 21630-8310 {
		t.Errorf("image %d B in %d files, hidden %d", r.ImageBytes, r.ImageFiles, r.HiddenBytes)
	}
	wantIneff := []Inefficiency{
		{Path: "/big", Count: 2, WastedBytes: 10000},
		{Path: "/etc/os-release", Count: 3, WastedBytes: 200},
		{Path: "/etc/conf", Count: 2, WastedBytes: 70},
	}
	if !reflect.DeepEqual(r.Inefficiencies, wantIneff) {
		t.Errorf("inefficiencies\n got %+v\nwant %+v", r.Inefficiencies, wantIneff)
	}
	type counts struct {
		added, modified, removed, whiteouts  int
		addedB, modifiedB, removedB, uncompB int64
	}
	wantLayers := []counts{
		{added: 4, addedB: 1100, uncompB: 1100},
		{added: 3, addedB: 10000, modified: 1, modifiedB: 100, uncompB: 10100},
		{added: 2, addedB: 10070, uncompB: 10120},
		{removed: 2, removedB: 13000, whiteouts: 2},
		{added: 2, addedB: 310, removed: 2, removedB: 170, whiteouts: 1, uncompB: 310},
	}
	for i, w := range wantLayers {
		l := r.Layers[i]
		got := counts{l.Added, l.Modified, l.Removed, l.Whiteouts, l.AddedBytes, l.ModifiedBytes, l.RemovedBytes, l.UncompressedBytes}
		if got != w {
			t.Errorf("layer %d: got %+v, want %+v", i, got, w)
		}
		if l.CreatedBy != knownWasteCmds[i] {
			t.Errorf("layer %d created by %q", i, l.CreatedBy)
		}
	}
	if r.Layers[2].DuplicateBytes != 50 {
		t.Errorf("layer 2 duplicate bytes %d, want 50", r.Layers[2].DuplicateBytes)
	}
	wantLargest := []FileRef{
		{"/var/cache/apt/pkgcache.bin", 5000, 1}, {"/usr/bin/curl", 2000, 1}, {"/bin/sh", 1000, 0},
		{"/app", 300, 4}, {"/etc/new", 10, 4},
	}
	if !reflect.DeepEqual(r.Largest, wantLargest) {
		t.Errorf("largest\n got %+v\nwant %+v", r.Largest, wantLargest)
	}
	wantWaste := []Finding{
		{Kind: "package-cache", Path: "/var/cache/apt", Bytes: 5000, FinalBytes: 5000, Files: 1, Layer: 1, CreatedBy: knownWasteCmds[1]},
		{Kind: "package-cache", Path: "/var/lib/apt/lists", Bytes: 3000, FinalBytes: 0, Files: 1, Layer: 1, CreatedBy: knownWasteCmds[1]},
	}
	if !reflect.DeepEqual(r.Waste, wantWaste) {
		t.Errorf("waste\n got %+v\nwant %+v", r.Waste, wantWaste)
	}
	wantHints := []Hint{
		{Action: "delete", Text: `delete /big in the same RUN as "dd if=/dev/zero of=/big" (layer 3), not in layer 4: saves 10.0 kB`, Layers: []int{2, 3}, Bytes: 10000},
		{Action: "delete", Text: `delete /var/cache/apt in the same RUN as "apt-get update && apt-get install -y curl" (layer 2): saves 5.0 kB`, Layers: []int{1}, Bytes: 5000},
		{Action: "delete", Text: `delete /var/lib/apt/lists in the same RUN as "apt-get update && apt-get install -y curl" (layer 2), not in a later layer: saves 3.0 kB`, Layers: []int{1}, Bytes: 3000},
		{Action: "delete", Text: `delete /etc in the same RUN as "apt-get update && apt-get install -y curl" (layer 2), not in layer 5: saves 100 B`, Layers: []int{1, 4}, Bytes: 100},
		{Action: "merge", Text: `merge layers 1 and 2: layer 2 rewrites 1 file of layer 1 (e.g. /etc/os-release): saves 100 B`, Layers: []int{0, 1}, Bytes: 100},
		{Action: "delete", Text: `delete /etc in the same RUN as "dd if=/dev/zero of=/big" (layer 3), not in layer 5: saves 70 B`, Layers: []int{2, 4}, Bytes: 70},
	}
	if !reflect.DeepEqual(r.Hints, wantHints) {
		t.Errorf("hints")
		for _, h := range r.Hints {
			t.Logf(" got %+v", h)
		}
		for _, h := range wantHints {
			t.Logf("want %+v", h)
		}
	}
	s := r.Summary()
	if s.WastedBytes != 10270 || s.ImageBytes != 8310 || len(s.TopWaste) != 2 || s.TopWaste[0].Path != "/var/cache/apt" {
		t.Errorf("summary %+v", s)
	}
}

// Dive's own golden case (dive/filetree/efficiency_test.go,
// TestEfficiency): trees built from paths alone, so /etc/nginx is a
// parent Dive made up and its whiteout weighs 0: score 0.75, one
// inefficient path /etc/nginx/nginx.conf of 7000 bytes.
func TestAnalyzeDiveGolden(t *testing.T) {
	r := image(t, []string{"", "", ""},
		[]ent{file("etc/nginx/nginx.conf", 2000), file("etc/nginx/public", 3000)},
		[]ent{file("etc/nginx/nginx.conf", 5000), file("etc/athing", 10000)},
		[]ent{whiteout("etc/nginx")},
	)
	if r.Efficiency != 0.75 {
		t.Errorf("efficiency %v, want 0.75", r.Efficiency)
	}
	if want := []Inefficiency{{"/etc/nginx/nginx.conf", 2, 7000}}; !reflect.DeepEqual(r.Inefficiencies, want) {
		t.Errorf("inefficiencies %+v, want %+v", r.Inefficiencies, want)
	}
	if r.WastedBytes != 7000 {
		t.Errorf("wasted %d, want 7000", r.WastedBytes)
	}

	// TestEfficiency_ScratchImage: one empty file, score 1, no list.
	r = image(t, []string{"", "", ""}, []ent{file("nothing", 0)}, nil, nil)
	if r.Efficiency != 1 || len(r.Inefficiencies) != 0 || r.WastedBytes != 0 {
		t.Errorf("scratch: efficiency %v, list %v, wasted %d", r.Efficiency, r.Inefficiencies, r.WastedBytes)
	}
}

// The same deleted directory, listed by its layer: Dive weighs the
// whiteout with the directory's bytes.
func TestAnalyzeWhiteoutOfListedDirectory(t *testing.T) {
	r := image(t, []string{"", ""},
		[]ent{dir("d"), file("d/a", 400), file("d/b", 600)},
		[]ent{whiteout("d")},
	)
	// d/a 400, d/b 600, d (whiteout) 1000: every path once.
	if r.Efficiency != 1 || r.WastedBytes != 0 || r.ImageBytes != 0 || r.HiddenBytes != 1000 {
		t.Errorf("efficiency %v wasted %d image %d hidden %d", r.Efficiency, r.WastedBytes, r.ImageBytes, r.HiddenBytes)
	}
	if l := r.Layers[1]; l.Removed != 2 || l.RemovedBytes != 1000 {
		t.Errorf("layer 1 removed %d (%d B)", l.Removed, l.RemovedBytes)
	}
}

// A file replacing a directory drops its children; a directory replacing a
// file drops the file.
func TestAnalyzeReplacements(t *testing.T) {
	r := image(t, []string{"", "", ""},
		[]ent{dir("d"), file("d/a", 10), file("f", 20)},
		[]ent{file("d", 5), dir("f"), file("f/x", 1)},
		[]ent{},
	)
	if r.ImageBytes != 6 || r.ImageFiles != 2 {
		t.Errorf("image %d B %d files, want 6 B in 2 (d, f/x)", r.ImageBytes, r.ImageFiles)
	}
	if l := r.Layers[1]; l.Removed != 2 || l.RemovedBytes != 30 || l.Modified != 1 || l.Added != 1 {
		t.Errorf("layer 1: %+v", l)
	}
}

func TestAnalyzeImageEntriesLimit(t *testing.T) {
	a := mustIndex(t, file("a/1", 1), file("a/2", 1), file("a/3", 1))
	b := mustIndex(t, file("b/1", 1), file("b/2", 1))
	_, err := Analyze([]Layer{{Index: a}, {Index: b}}, Limits{MaxImageEntries: 6})
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != "image entries" || !errors.Is(err, ErrLimit) {
		t.Fatalf("err = %v, want an image entries LimitError", err)
	}
	if _, err := Analyze([]Layer{{Index: a}, {Index: b}}, Limits{MaxImageEntries: 7}); err != nil {
		t.Errorf("7 paths under 7: %v", err)
	}
	if _, err := Analyze([]Layer{{}}, Limits{}); err == nil {
		t.Error("a layer without an index was analysed")
	}
}

// Reports' lists are bounded.
func TestAnalyzeListsAreBounded(t *testing.T) {
	var l0, l1 []ent
	for i := range 50 {
		name := "f" + string(rune('A'+i))
		l0 = append(l0, file(name, 10+i), file("src/"+name+"/.git/HEAD", 1))
		l1 = append(l1, file(name, 10+i))
	}
	r := image(t, []string{"", ""}, l0, l1)
	if len(r.Inefficiencies) != 50 || len(r.Waste) != 50 || len(r.Hints) != 51 || r.Truncated {
		t.Fatalf("%d inefficiencies, %d findings, %d hints, truncated %v", len(r.Inefficiencies), len(r.Waste), len(r.Hints), r.Truncated)
	}
	ls := []Layer{{Index: mustIndex(t, l0...)}, {Index: mustIndex(t, l1...)}}
	r, err := Analyze(ls, Limits{MaxListed: 7, Largest: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Inefficiencies) != 7 || len(r.Waste) != 7 || len(r.Hints) != 7 || len(r.Largest) != 3 || !r.Truncated {
		t.Errorf("lists %d %d %d %d, truncated %v", len(r.Inefficiencies), len(r.Waste), len(r.Hints), len(r.Largest), r.Truncated)
	}
	if r.Largest[0].Size != 59 || r.Inefficiencies[0].WastedBytes != 118 {
		t.Errorf("largest first: %+v %+v", r.Largest[0], r.Inefficiencies[0])
	}
}

// A hostile image: a 250-deep chain of directories with files at the
// bottom, 20,000 files deleted one by one, every directory of the chain
// deleted by its own whiteout. Figures are exact, lists bounded, and
// every node is summed once (the nested whiteouts reuse their sums).
func TestAnalyzeHostileImage(t *testing.T) {
	chain := "d"
	var l0, l1 []ent
	for range 249 {
		chain += "/d"
	}
	for i := range 2000 {
		l0 = append(l0, file(fmt.Sprintf("%s/f%d", chain, i), 3))
	}
	for i := range 20000 {
		name := fmt.Sprintf("top%d", i)
		l0 = append(l0, file(name, 5))
		l1 = append(l1, whiteout(name))
	}
	for p := chain; p != "."; p = path.Dir(p) {
		l0 = append(l0, dir(p))
		l1 = append(l1, whiteout(p))
	}
	r, err := Analyze([]Layer{{Index: indexOf(t, l0)}, {Index: indexOf(t, l1)}}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if l := r.Layers[1]; l.Removed != 22000 || l.RemovedBytes != 106000 || l.Whiteouts != 20250 {
		t.Errorf("layer 1: removed %d (%d B), whiteouts %d", l.Removed, l.RemovedBytes, l.Whiteouts)
	}
	// Every top file: 5 then 0; the chain's whiteouts weigh 6000 each,
	// once per path; the bottom files once.
	if r.WastedBytes != 100000 || r.ImageBytes != 0 || r.HiddenBytes != 106000 {
		t.Errorf("wasted %d image %d hidden %d", r.WastedBytes, r.ImageBytes, r.HiddenBytes)
	}
	if len(r.Hints) != DefaultLimits.MaxListed || !r.Truncated || len(r.Inefficiencies) != DefaultLimits.MaxListed {
		t.Errorf("%d hints, %d inefficiencies, truncated %v", len(r.Hints), len(r.Inefficiencies), r.Truncated)
	}
}
