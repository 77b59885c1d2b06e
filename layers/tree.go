package layers

import "strings"

// node is a path of the merged tree: the image's file system after the
// layers merged so far, Docker's way (whiteouts, opaque directories, last
// writer wins). A removed path leaves the tree.
type node struct {
	path     string // the index path ("" for the root)
	parent   *node
	children map[string]*node // by name; nil until the first child
	size     int64            // regular files: content bytes
	kind     Kind
	removed  bool
	// diveDir is Dive's FileInfo.IsDir for this path in its stacked tree:
	// true only when the last layer that touched the path had an explicit
	// directory entry for it. Dive gives a parent it creates on its own an
	// empty FileInfo, so a whiteout of a directory no layer listed weighs 0
	// in its efficiency (file_tree.go AddPath, efficiency.go).
	diveDir  bool
	layer    int32 // the layer whose entry last wrote the node
	explicit int32 // the last layer with an entry for this path, -1 none
	childIn  int32 // the last layer with an entry below this path, -1 none
}

// name is the last component of the node's path.
func (nd *node) name() string {
	return nd.path[strings.LastIndexByte(nd.path, '/')+1:]
}

// tree is the merged tree with the bookkeeping of the layer being merged.
type tree struct {
	root  *node
	live  int   // nodes in the tree, root excluded
	layer int32 // the layer being merged
	max   int   // bound on live
	// cacheDir/cacheNode remember the last parent touched: entries come
	// sorted, so most share it.
	cacheDir  string
	cacheNode *node
}

func newTree(max int) *tree {
	return &tree{root: &node{kind: Dir, diveDir: true, explicit: -1, childIn: -1}, max: max}
}

// get returns the node of p, nil if the tree has none.
func (t *tree) get(p string) *node {
	cur := t.root
	for p != "" && cur != nil {
		name, rest, _ := strings.Cut(p, "/")
		cur = cur.children[name]
		p = rest
	}
	return cur
}

// parentOf returns the parent node of p, creating missing ancestors as
// directories and touching each one in the current layer (Dive's
// intermediate nodes: see node.diveDir). It fails when the tree would
// pass its bound.
func (t *tree) parentOf(p string) (*node, error) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return t.root, nil
	}
	dir := p[:i]
	if c := t.cacheNode; c != nil && t.cacheDir == dir && !c.removed && c.childIn == t.layer {
		return c, nil
	}
	cur := t.root
	for end := 0; end < len(dir); {
		next := strings.IndexByte(dir[end+1:], '/')
		if next < 0 {
			next = len(dir)
		} else {
			next += end + 1
		}
		start := end
		if start > 0 {
			start++ // skip the "/"
		}
		child, err := t.child(cur, dir[:next], dir[start:next])
		if err != nil {
			return nil, err
		}
		if child.explicit != t.layer {
			child.diveDir = false
		}
		child.childIn = t.layer
		cur, end = child, next
	}
	t.cacheDir, t.cacheNode = dir, cur
	return cur, nil
}

// child returns parent's child name (path p), creating it as a directory
// written by the current layer.
func (t *tree) child(parent *node, p, name string) (*node, error) {
	if c := parent.children[name]; c != nil {
		return c, nil
	}
	if t.live >= t.max {
		return nil, &LimitError{Limit: "image entries", Max: t.max, Layer: int(t.layer)}
	}
	c := &node{path: p, parent: parent, kind: Dir, layer: t.layer, explicit: -1, childIn: -1}
	if parent.children == nil {
		parent.children = make(map[string]*node)
	}
	parent.children[name] = c
	t.live++
	return c, nil
}

// detach takes nd and its subtree out of the tree, calling visit for
// every node of the subtree (nd included), in no particular order.
func (t *tree) detach(nd *node, visit func(*node)) {
	delete(nd.parent.children, nd.name())
	stack := []*node{nd}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range cur.children {
			stack = append(stack, c)
		}
		cur.removed = true
		t.live--
		visit(cur)
	}
}

// walk calls visit for every node of the tree but the root.
func (t *tree) walk(visit func(*node)) {
	stack := []*node{t.root}
	for len(stack) > 0 {
		cur := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range cur.children {
			stack = append(stack, c)
		}
		if cur != t.root {
			visit(cur)
		}
	}
}
