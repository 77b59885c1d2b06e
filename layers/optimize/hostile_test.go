package optimize

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/layers"
)

// TestOptimizeRefusesHostileNames: names that leave the root or are
// absolute, and hard links whose target does, are refused with the
// layer and the name; nothing is written.
func TestOptimizeRefusesHostileNames(t *testing.T) {
	for _, tc := range []struct {
		bad  ent
		want string
	}{
		{file("../../etc/passwd", 10, 1), `layer 2: entry "../../etc/passwd" leaves the image root`},
		{file("/etc/shadow", 10, 1), `layer 2: entry "/etc/shadow" is an absolute path`},
		{file("a/../../x", 10, 1), `leaves the image root`},
		{hardlink("evil", "../../etc/passwd"), `entry "evil" is a hard link whose target leaves the image root`},
		{whiteout("../../etc/passwd"), `leaves the image root`},
	} {
		img := image(t, []ent{file("ok", 10, 1)}, []ent{tc.bad})
		dir := t.TempDir()
		_, err := Optimize(context.Background(), img, Options{TempDir: dir})
		var he *HostileError
		if !errors.As(err, &he) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a HostileError with %q", tc.bad.name, err, tc.want)
		}
		assertEmptyDir(t, dir)
	}
}

// TestOptimizeBounded: past a limit (entries of a layer, of the image,
// path length, depth) optimize stops with a *layers.LimitError naming it.
func TestOptimizeBounded(t *testing.T) {
	many := make([]ent, 0, 2000)
	for i := range 2000 {
		many = append(many, ent{name: fmt.Sprintf("f%05d", i), typ: tar.TypeReg, mode: 0o644})
	}
	deep := strings.Repeat("d/", 40) + "f"
	for _, tc := range []struct {
		name  string
		img   [][]ent
		lim   layers.Limits
		limit string
	}{
		{"entries", [][]ent{many}, layers.Limits{MaxEntries: 1000}, "entries"},
		{"image entries", [][]ent{many[:900], many[900:1800]}, layers.Limits{MaxEntries: 1000, MaxImageEntries: 1500}, "image entries"},
		{"path bytes", [][]ent{{file(strings.Repeat("p", 300), 1, 1)}}, layers.Limits{MaxPathBytes: 256}, "path bytes"},
		{"depth", [][]ent{{file(deep, 1, 1)}}, layers.Limits{MaxDepth: 32}, "depth"},
	} {
		dir := t.TempDir()
		_, err := Optimize(context.Background(), image(t, tc.img...), Options{Limits: tc.lim, TempDir: dir})
		var le *layers.LimitError
		if !errors.As(err, &le) || le.Limit != tc.limit {
			t.Errorf("%s: got %v, want a LimitError on %q", tc.name, err, tc.limit)
		}
		assertEmptyDir(t, dir)
	}
}

// TestOptimizeRefusesBrokenLinks: a hard link to nothing is refused (no
// applier could apply it), not dropped or kept silently.
func TestOptimizeRefusesBrokenLinks(t *testing.T) {
	img := image(t, []ent{hardlink("a", "missing")})
	_, err := Optimize(context.Background(), img, Options{TempDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), `layer 1: a hard link "a" to "missing"`) {
		t.Fatalf("got %v", err)
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := readDir(dir)
	if err != nil || len(ents) != 0 {
		t.Errorf("temporary files left in %s: %v %v", dir, ents, err)
	}
}
