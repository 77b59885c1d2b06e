package layers

import (
	"fmt"
	"slices"
)

// effStat is Dive's EfficiencyData of one path without its node list:
// how many layers hold (or remove) the path, the sum and the smallest of
// their sizes (dive/filetree/efficiency.go).
type effStat struct {
	count    int32
	cum, min int64
}

// shadowKey names bytes that layer upper hid from layer lower.
type shadowKey struct{ lower, upper int32 }

// shadowStat are the bytes and files of lower that upper overwrote, and
// one of their paths.
type shadowStat struct {
	bytes int64
	files int
	path  string
}

// removalKey names bytes of layer lower that a whiteout (or opaque
// directory, or a file replacing a directory) of path in layer upper
// removed.
type removalKey struct {
	path         string
	lower, upper int32
}

// merger merges layers bottom-up into a Report.
type merger struct {
	lim       Limits
	layers    []Layer
	tree      *tree
	eff       map[string]effStat
	rep       *Report
	lr        *LayerReport // the current layer's report
	overwrite map[shadowKey]shadowStat
	removal   map[removalKey]int64
	nodes     []*node // the current layer's entry nodes (pass 1 → pass 2)
}

// Analyze merges layers (bottom first) into a report. It reads no blob:
// each layer's Index says everything. The merged tree holds at most
// lim.MaxImageEntries paths at once and the efficiency table as many
// distinct paths: past either, Analyze stops with a *LimitError (Layer
// -1 for the table, the layer being merged for the tree). A layer without
// an Index is an error.
func Analyze(layers []Layer, lim Limits) (*Report, error) {
	lim = lim.withDefaults()
	m := &merger{
		lim:       lim,
		layers:    layers,
		tree:      newTree(lim.MaxImageEntries),
		eff:       make(map[string]effStat),
		rep:       &Report{Layers: make([]LayerReport, len(layers))},
		overwrite: make(map[shadowKey]shadowStat),
		removal:   make(map[removalKey]int64),
	}
	for i, l := range layers {
		if l.Index == nil {
			return nil, fmt.Errorf("layers: layer %d (%s) has no index", i, l.Digest)
		}
		if err := m.merge(i, l); err != nil {
			return nil, err
		}
	}
	m.efficiency()
	c := newClassifier(m.tree.get(goToolchain) != nil)
	m.waste(c, m.final(c))
	m.hints()
	m.rep.nonNil()
	return m.rep, nil
}

// merge applies layer i in three passes over its sorted entries: Dive's
// occurrences of its whiteouts, weighed in the tree below (pass 0); the
// entries applied in order, each marker and whiteout before the entries
// at and below its path (pass 1); Dive's occurrences of the layer's
// leaves, once the layer's own tree is known (pass 2).
func (m *merger) merge(i int, l Layer) error {
	x := l.Index
	entries := x.Entries
	if !slices.IsSortedFunc(entries, compareEntries) {
		entries = slices.Clone(entries)
		slices.SortStableFunc(entries, compareEntries)
	}
	m.tree.layer = int32(i)
	m.lr = &m.rep.Layers[i]
	*m.lr = LayerReport{
		Digest:            l.Digest,
		CompressedSize:    l.CompressedSize,
		UncompressedBytes: x.TarBytes(),
		Files:             x.Files,
		DuplicateBytes:    x.DuplicateBytes,
		Unsafe:            x.Unsafe,
		ZstdEstimate:      x.zstdEstimate(),
		CreatedBy:         l.CreatedBy,
	}
	m.rep.TotalBytes += x.TarBytes()
	if i > 0 {
		m.rep.UserBytes += x.TarBytes()
	}
	// Pass 0: Dive weighs whiteouts in the tree of the layers below
	// (efficiency.go: StackTreeRange(trees, 0, currentTree-1)), before
	// any change of this layer.
	if err := m.whiteoutOccurrences(entries); err != nil {
		return err
	}
	m.nodes = m.nodes[:0]
	for k := range entries {
		e := &entries[k]
		var nd *node
		var err error
		switch {
		case e.Path == "":
		case e.Opaque:
			err = m.opaque(e.Path)
		case e.Whiteout:
			err = m.whiteout(e.Path)
		default:
			nd, err = m.put(e)
		}
		if err != nil {
			return err
		}
		m.nodes = append(m.nodes, nd)
	}
	// Pass 2: Dive visits the leaves of each layer's own tree
	// (efficiency.go: visitEvaluator is node.IsLeaf), so an entry with an
	// entry below it in the same layer is not counted.
	for k, nd := range m.nodes {
		if nd == nil || nd.childIn == int32(i) {
			continue
		}
		if err := m.occur(entries[k].Path, entries[k].Size); err != nil {
			return err
		}
	}
	return nil
}

// occur records one of Dive's occurrences of path with size bytes.
func (m *merger) occur(path string, size int64) error {
	s, ok := m.eff[path]
	if !ok {
		if len(m.eff) >= m.lim.MaxImageEntries {
			return &LimitError{Limit: "image entries", Max: m.lim.MaxImageEntries, Layer: -1}
		}
		s.min = size
	}
	s.count++
	s.cum += size
	s.min = min(s.min, size)
	m.eff[path] = s
	return nil
}

// put applies an entry that is neither a whiteout nor a marker.
func (m *merger) put(e *Entry) (*node, error) {
	t := m.tree
	parent, err := t.parentOf(e.Path)
	if err != nil {
		return nil, err
	}
	name := e.Path[len(parent.path)+boolInt(parent != t.root):]
	nd := parent.children[name]
	// A node this layer created only as a parent (an opaque marker's
	// directory, sorted first) is new here too.
	if nd == nil || nd.layer == t.layer && nd.explicit != t.layer {
		if nd == nil {
			if nd, err = t.child(parent, e.Path, name); err != nil {
				return nil, err
			}
		}
		if e.Kind != Dir {
			m.lr.Added++
			m.lr.AddedBytes += e.Size
		}
	} else {
		m.replace(nd, e)
	}
	nd.kind, nd.size, nd.diveDir = e.Kind, e.Size, e.Kind == Dir
	nd.layer, nd.explicit = t.layer, t.layer
	return nd, nil
}

// replace accounts for an entry written over a path lower layers hold.
func (m *merger) replace(nd *node, e *Entry) {
	switch {
	case nd.kind == Dir && e.Kind == Dir:
		return // a directory's entry again: its children stay
	case nd.kind == Dir:
		// A non-directory replaces a directory: Docker removes the
		// directory with its children.
		for _, c := range nd.children {
			m.remove(c, e.Path)
		}
	case e.Kind == Dir:
		// A directory replaces a file: the file is gone.
		m.lr.Removed++
		m.lr.RemovedBytes += nd.size
		m.removal[removalKey{nd.path, nd.layer, m.tree.layer}] += nd.size
		return
	}
	if e.Kind == Dir {
		return
	}
	m.lr.Modified++
	m.lr.ModifiedBytes += e.Size
	if nd.kind != Dir && nd.size > 0 {
		k := shadowKey{nd.layer, m.tree.layer}
		s := m.overwrite[k]
		s.bytes += nd.size
		s.files++
		if s.path == "" {
			s.path = nd.path
		}
		m.overwrite[k] = s
	}
}

// whiteout applies ".wh.<p>": p leaves the tree with its subtree.
func (m *merger) whiteout(p string) error {
	m.lr.Whiteouts++
	parent, err := m.tree.parentOf(p)
	if err != nil {
		return err
	}
	if nd := parent.children[p[len(parent.path)+boolInt(parent != m.tree.root):]]; nd != nil {
		m.remove(nd, p)
	}
	return nil
}

// opaque applies the marker of directory d: its lower children leave the
// tree.
func (m *merger) opaque(d string) error {
	m.lr.Whiteouts++
	t := m.tree
	parent, err := t.parentOf(d)
	if err != nil {
		return err
	}
	nd, err := t.child(parent, d, d[len(parent.path)+boolInt(parent != t.root):])
	if err != nil {
		return err
	}
	if nd.explicit != t.layer {
		nd.diveDir = false
	}
	for _, c := range nd.children {
		m.remove(c, d)
	}
	return nil
}

// remove takes nd's subtree out of the tree for a whiteout (or marker,
// or replacing file) of path in the current layer, counting what it held
// in the layer's Removed figures and, by the layer that wrote it, for
// the delete hints.
func (m *merger) remove(nd *node, path string) {
	m.tree.detach(nd, func(c *node) {
		if c.kind == Dir {
			return
		}
		m.lr.Removed++
		m.lr.RemovedBytes += c.size
		if c.size > 0 {
			m.removal[removalKey{path, c.layer, m.tree.layer}] += c.size
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
