package optimize

import (
	"fmt"
	"slices"
	"strings"

	"github.com/imagegate/imagegate/layers"
)

// VerifyError says the planned layers would not build the original file
// system: a layer shape the planner does not handle. Nothing is written.
type VerifyError struct {
	Path   string // the first path found to differ, absolute
	Detail string
}

// Error names the path.
func (e *VerifyError) Error() string {
	return fmt.Sprintf("optimize: the rewritten layers would change %s (%s); refusing to rewrite this image", e.Path, e.Detail)
}

// fsKey is what a path of a final file system is compared by: its kind
// and where its content and metadata come from (the original entry; a
// hard link's, its target's).
type fsKey struct {
	inode verID
	kind  kind
}

// verify applies the planned new layers (each one's front first, then
// its written entries in order, renamed and relinked as planned) and
// compares the file system they build with want, the original's, path by
// path. A difference is a *VerifyError.
func verify(want *applier, pl *Plan, lim layers.Limits) error {
	got, err := build(pl, lim)
	if err != nil {
		return err
	}
	return compare(want, got)
}

// build applies the planned new layers.
func build(pl *Plan, lim layers.Limits) (*applier, error) {
	got := newApplier(lim)
	for o := range pl.Layers {
		out := &pl.Layers[o]
		got.layer = int32(o)
		for _, f := range out.front {
			if f.opaque {
				if err := got.opaque(f.path, f.src); err != nil {
					return nil, &VerifyError{Path: "/" + f.path, Detail: err.Error()}
				}
				continue
			}
			if err := got.whiteout(f.path, f.src); err != nil {
				return nil, &VerifyError{Path: "/" + f.path, Detail: err.Error()}
			}
		}
		for k, l := range out.Inputs {
			for i, a := range out.actions[k] {
				e := pl.entries[l][i]
				switch {
				case a.op == opSkip || e.kind == kWhiteout || e.kind == kOpaque || e.kind == kRoot || e.kind == kMeta:
					continue
				case a.op == opRename:
					e.path = a.name
				case a.op == opRelink:
					e.link = a.name
				}
				if _, err := got.put(&e, verID{int32(l), int32(i)}); err != nil {
					return nil, &VerifyError{Path: "/" + e.path, Detail: err.Error()}
				}
			}
		}
	}
	return got, nil
}

// compare compares two final file systems path by path.
func compare(want, got *applier) error {
	wantFS := make(map[string]fsKey, want.live)
	want.walk(func(p string, nd *node) { wantFS[p] = fsKey{nd.inode, nd.kind} })
	var bad *VerifyError
	got.walk(func(p string, nd *node) {
		w, ok := wantFS[p]
		switch {
		case bad != nil:
		case !ok:
			bad = &VerifyError{Path: "/" + p, Detail: "a path the original does not have"}
		case w != (fsKey{nd.inode, nd.kind}):
			bad = &VerifyError{Path: "/" + p, Detail: fmt.Sprintf("from layer %d entry %d, not layer %d entry %d",
				nd.inode.layer+1, nd.inode.idx, w.inode.layer+1, w.inode.idx)}
		}
		delete(wantFS, p)
	})
	if bad != nil {
		return bad
	}
	for p := range wantFS {
		return &VerifyError{Path: "/" + p, Detail: "missing from the rewritten layers"}
	}
	return nil
}

// implicitName is the name implicitDirs whites out in a directory to
// have it created.
const implicitName = "imagegate-implicit-dir"

// implicitDirs keeps the implicit directories of the original (parents
// no entry lists, which Docker and containerd create as they apply an
// entry below them, each with its own mode) that the final file system
// has but the planned layers no longer create, because every entry
// below them was dropped. An entry that creates them without adding
// anything is a whiteout of a name nothing has: the deepest of such
// directories gets one, "<dir>/.wh.imagegate-implicit-dir", at the
// front of the new layer that holds the original layer that created
// it, and the runtime creates it and its parents as it did before —
// with the same mode, whichever runtime it is.
func implicitDirs(want *applier, pl *Plan, lim layers.Limits) error {
	got, err := build(pl, lim)
	if err != nil {
		return err
	}
	outOf := map[int]int{}
	for o, out := range pl.Layers {
		for _, l := range out.Inputs {
			outOf[l] = o
		}
	}
	type dir struct {
		p string
		o int
	}
	var missing []dir
	want.walk(func(p string, nd *node) {
		if nd.ver == none && nd.kind == kDir && got.get(p) == nil {
			missing = append(missing, dir{p, outOf[int(nd.created)]})
		}
	})
	slices.SortFunc(missing, func(a, b dir) int { return strings.Compare(a.p, b.p) })
	for i, m := range missing {
		if i+1 < len(missing) && strings.HasPrefix(missing[i+1].p, m.p+"/") {
			continue // a deeper one creates it
		}
		if want.get(m.p+"/"+implicitName) != nil {
			return &VerifyError{Path: "/" + m.p, Detail: "an implicit directory that holds " + implicitName}
		}
		out := &pl.Layers[m.o]
		out.front = append(out.front, front{path: m.p + "/" + implicitName, src: none})
		out.Unchanged, out.Empty = false, false
	}
	return nil
}
