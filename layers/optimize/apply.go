package optimize

import (
	"fmt"
	"strings"

	"github.com/imagegate/imagegate/layers"
)

// node is one path of the file system an applier builds.
type node struct {
	parent   *node
	children map[string]*node
	name     string
	ver      verID // the entry that wrote the path; none for an implicit directory
	// inode is where the path's content and metadata come from: ver, or
	// for a hard link the inode of the path it links to.
	inode verID
	kind  kind // kFile, kDir, kSymlink, kOther; a hard link takes its target's
	link  bool // written by a hard-link entry
	// created is the layer whose entry created an implicit directory.
	created int32
}

// applier applies entries to a file system the way Docker and containerd
// do, following the OCI image layer specification: a layer's whiteouts
// and opaque markers act on the layers below it, before its other
// entries, which apply in tar order, the last of a path winning; a
// directory entry over a directory keeps its children; anything else over
// a path removes the path with its subtree; missing parents are created
// as implicit directories. It keeps no content.
type applier struct {
	root *node
	live int
	max  int // bound on live
	// onHide, when set, hears every entry that leaves the file system and
	// the entry (whiteout, marker, replacement) that made it leave.
	onHide func(v, by verID)
	// onSupersede, when set, hears a directory entry replaced by another
	// directory entry of the same path (its children stay).
	onSupersede func(old, by verID)
	layer       int32 // the layer being applied
}

func newApplier(lim layers.Limits) *applier {
	return &applier{root: &node{kind: kDir, ver: none, inode: none}, max: limits(lim).MaxImageEntries}
}

// get returns the node of p ("" is the root), nil if there is none.
func (a *applier) get(p string) *node {
	cur := a.root
	for p != "" && cur != nil {
		name, rest, _ := strings.Cut(p, "/")
		cur = cur.children[name]
		p = rest
	}
	return cur
}

// parent returns p's parent directory, creating missing ones as implicit
// directories. A non-directory on the way is an error: no applier can
// create p.
func (a *applier) parent(p string) (*node, error) {
	cur := a.root
	for {
		name, rest, found := strings.Cut(p, "/")
		if !found {
			return cur, nil
		}
		next := cur.children[name]
		if next == nil {
			var err error
			if next, err = a.add(cur, name, &node{kind: kDir, ver: none, inode: none, created: a.layer}); err != nil {
				return nil, err
			}
		}
		if next.kind != kDir {
			return nil, fmt.Errorf("a path below %q, which is not a directory", a.pathOf(next))
		}
		cur, p = next, rest
	}
}

// add makes nd parent's child name.
func (a *applier) add(parent *node, name string, nd *node) (*node, error) {
	if a.live >= a.max {
		return nil, &layers.LimitError{Limit: "image entries", Max: a.max, Layer: -1}
	}
	a.live++
	nd.parent, nd.name = parent, name
	if parent.children == nil {
		parent.children = make(map[string]*node)
	}
	parent.children[name] = nd
	return nd, nil
}

// remove takes nd and its subtree out, reporting each entry to onHide.
func (a *applier) remove(nd *node, by verID) {
	delete(nd.parent.children, nd.name)
	stack := []*node{nd}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range cur.children {
			stack = append(stack, c)
		}
		a.live--
		if cur.ver != none && a.onHide != nil {
			a.onHide(cur.ver, by)
		}
	}
}

// whiteout removes p (and its subtree) if present. Like any entry, it
// first creates p's missing parents as implicit directories (Docker and
// containerd both do, each with its own mode); a non-directory in the
// way is an error, as it is for them.
func (a *applier) whiteout(p string, by verID) error {
	if _, err := a.parent(p); err != nil {
		return err
	}
	if nd := a.get(p); nd != nil {
		a.remove(nd, by)
	}
	return nil
}

// opaque removes d's children; d becomes an implicit directory if
// absent. A non-directory at d or above is an error: the marker is an
// entry below d, which no applier can create there.
func (a *applier) opaque(d string, by verID) error {
	nd := a.get(d)
	if nd != nil && nd.kind != kDir {
		return fmt.Errorf("an opaque marker in %q, which is not a directory", d)
	}
	if nd == nil {
		parent, err := a.parent(d)
		if err != nil {
			return err
		}
		_, err = a.add(parent, d[strings.LastIndexByte(d, '/')+1:], &node{kind: kDir, ver: none, inode: none, created: a.layer})
		return err
	}
	for _, c := range nd.children {
		a.remove(c, by)
	}
	return nil
}

// put applies a file, directory, link or device entry e written by v.
// For a hard link it returns the entry its target path held (linkTo);
// a hard link to nothing or to a directory is an error, as it is for
// Docker.
func (a *applier) put(e *entry, v verID) (linkTo verID, err error) {
	nd := &node{ver: v, inode: v, kind: e.kind, created: a.layer}
	linkTo = none
	if e.kind == kHardlink {
		t := a.get(e.link)
		if t == nil || t.kind == kDir {
			return none, fmt.Errorf("a hard link %q to %q, which is missing or a directory", e.path, e.link)
		}
		nd.inode, nd.kind, nd.link, linkTo = t.inode, t.kind, true, t.ver
	}
	parent, err := a.parent(e.path)
	if err != nil {
		return none, err
	}
	name := e.path[strings.LastIndexByte(e.path, '/')+1:]
	if old := parent.children[name]; old != nil {
		if old.kind == kDir && e.kind == kDir {
			if v == none {
				return none, nil // an implicit directory over a directory: nothing changes
			}
			if old.ver != none && a.onSupersede != nil {
				a.onSupersede(old.ver, v)
			}
			old.ver, old.inode = v, v
			return none, nil
		}
		a.remove(old, v)
	}
	_, err = a.add(parent, name, nd)
	return linkTo, err
}

// pathOf is nd's path.
func (a *applier) pathOf(nd *node) string {
	var parts []string
	for ; nd != a.root && nd != nil; nd = nd.parent {
		parts = append(parts, nd.name)
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, "/")
}

// walk calls visit for every path but the root, with its node.
func (a *applier) walk(visit func(p string, nd *node)) {
	type item struct {
		p  string
		nd *node
	}
	stack := []item{{"", a.root}}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for name, c := range cur.nd.children {
			p := name
			if cur.p != "" {
				p = cur.p + "/" + name
			}
			stack = append(stack, item{p, c})
		}
		if cur.nd != a.root {
			visit(cur.p, cur.nd)
		}
	}
}
