package optimize

import (
	"fmt"
	"path"

	"github.com/imagegate/imagegate/layers"
)

// op is what the rewrite does with one entry of an original layer.
type op uint8

const (
	opSkip   op = iota // not in the new layer
	opKeep             // copied as is
	opRename           // copied under another name (a hard link's target carried by the link)
	opRelink           // a hard link copied with another target
)

// action is the rewrite of one original entry; name is the new name
// (opRename) or link target (opRelink).
type action struct {
	name string
	op   op
}

// front is a whiteout or opaque marker the new layer starts with.
type front struct {
	path   string // the path it removes (whiteout) or the directory (marker)
	opaque bool
	src    verID // the original entry it comes from (none: see implicitDirs)
}

// OutLayer is one layer of the new image as planned.
type OutLayer struct {
	Inputs []int // the original layers it is made of (0-based, ascending)
	// Unchanged: one original layer whose every entry stays as it is:
	// the original blob can be reused.
	Unchanged bool
	// Empty: nothing left (every entry dropped); the layer is left out.
	Empty bool
	// DroppedFiles and DroppedBytes count the regular files left out and
	// their content bytes; DroppedOther the other entries (links, devices,
	// directories, whiteouts, markers).
	DroppedFiles int
	DroppedBytes int64
	DroppedOther int
	front        []front
	actions      [][]action // per Inputs element, per entry of that layer
}

// Plan is what the new image's layers hold, entry by entry.
type Plan struct {
	Layers []OutLayer
	// DroppedFiles and DroppedBytes total the layers'.
	DroppedFiles int
	DroppedBytes int64
	entries      [][]entry
}

// estate is the planner's bookkeeping of one original entry.
type estate struct {
	hiddenBy, supBy, linkTo verID
	hidden, superseded      bool
	pinned, emitted         bool
	renamed                 bool // a root written under a hard link's name
	carries                 bool // a hard link whose root is written under its name
}

// planner builds a Plan.
type planner struct {
	entries [][]entry
	st      [][]estate
	outOf   []int // output layer of each input layer
	groups  [][]int
	final   *applier
}

// plan decides, for original layers with entries (tar order) grouped
// into new layers by groups (contiguous, ascending, covering every
// layer), what every new layer holds; then verifies that the new layers
// build the same file system (verify). Errors name the layer.
func plan(entries [][]entry, groups [][]int, lim layers.Limits) (*Plan, error) {
	p := &planner{entries: entries, groups: groups, outOf: make([]int, len(entries)), st: make([][]estate, len(entries))}
	for o, g := range groups {
		for _, l := range g {
			p.outOf[l] = o
		}
	}
	for l := range entries {
		p.st[l] = make([]estate, len(entries[l]))
	}
	if err := p.applyOriginal(lim); err != nil {
		return nil, err
	}
	out := &Plan{Layers: make([]OutLayer, len(groups)), entries: entries}
	for o := len(groups) - 1; o >= 0; o-- {
		p.emit(o, &out.Layers[o])
	}
	p.keepWhiteouts()
	for o := range groups {
		p.fronts(o, &out.Layers[o])
		out.DroppedFiles += out.Layers[o].DroppedFiles
		out.DroppedBytes += out.Layers[o].DroppedBytes
	}
	if err := implicitDirs(p.final, out, lim); err != nil {
		return nil, err
	}
	if err := verify(p.final, out, lim); err != nil {
		return nil, err
	}
	return out, nil
}

// applyOriginal applies the original layers, recording what hides,
// supersedes and links what.
func (p *planner) applyOriginal(lim layers.Limits) error {
	a := newApplier(lim)
	a.onHide = func(v, by verID) {
		s := &p.st[v.layer][v.idx]
		s.hidden, s.hiddenBy = true, by
	}
	a.onSupersede = func(old, by verID) {
		s := &p.st[old.layer][old.idx]
		s.superseded, s.supBy = true, by
	}
	for l, es := range p.entries {
		a.layer = int32(l)
		if err := applyLayer(a, l, es, func(i int, linkTo verID) { p.st[l][i].linkTo = linkTo }); err != nil {
			return err
		}
	}
	p.final = a
	return nil
}

// applyLayer applies one layer's entries to a: whiteouts and markers
// first, then the rest in order; linked hears each hard link's target.
func applyLayer(a *applier, l int, es []entry, linked func(i int, linkTo verID)) error {
	for i := range es {
		v := verID{int32(l), int32(i)}
		switch es[i].kind {
		case kWhiteout:
			if err := a.whiteout(es[i].path, v); err != nil {
				return fmt.Errorf("optimize: layer %d: %w", l+1, err)
			}
		case kOpaque:
			if err := a.opaque(es[i].path, v); err != nil {
				return fmt.Errorf("optimize: layer %d: %w", l+1, err)
			}
		}
	}
	for i := range es {
		switch es[i].kind {
		case kWhiteout, kOpaque, kRoot, kMeta:
			continue
		}
		linkTo, err := a.put(&es[i], verID{int32(l), int32(i)})
		if err != nil {
			return fmt.Errorf("optimize: layer %d: %w", l+1, err)
		}
		if linked != nil && linkTo != none {
			linked(i, linkTo)
		}
	}
	return nil
}

// emit decides which entries of new layer o are written, and how: an
// entry is kept when a container sees it at the end, or when a hard link
// of a higher new layer needs it (pinned). A hard link whose target is
// dropped carries the target's content itself (the first such link in
// the layer; the others link to it). Hard links to a lower new layer pin
// their target there (o is decided top-down for that).
func (p *planner) emit(o int, out *OutLayer) {
	out.Inputs = p.groups[o]
	out.actions = make([][]action, len(out.Inputs))
	// In a squash, the root's entry and metadata entries of the same name
	// may come from several layers: the last of each is kept (Docker
	// refuses a layer that repeats a name).
	last := map[string]verID{}
	if len(out.Inputs) > 1 {
		for _, l := range out.Inputs {
			for i, e := range p.entries[l] {
				if e.kind == kRoot || e.kind == kMeta {
					last[e.path] = verID{int32(l), int32(i)}
				}
			}
		}
	}
	for k, l := range out.Inputs {
		out.actions[k] = make([]action, len(p.entries[l]))
		for i := range p.entries[l] {
			e, s := &p.entries[l][i], &p.st[l][i]
			switch e.kind {
			case kRoot, kMeta:
				v, ok := last[e.path]
				s.emitted = !ok || v == verID{int32(l), int32(i)}
			case kWhiteout, kOpaque:
				// decided by keepWhiteouts
			case kDir:
				s.emitted = !s.hidden && !(s.superseded && p.outOf[s.supBy.layer] == o)
			default:
				s.emitted = !s.hidden || s.pinned
			}
			if s.emitted {
				out.actions[k][i] = action{op: opKeep}
			}
		}
	}
	// Hard links, in order: the root of each one's chain inside this
	// new layer, and carriers for roots that are dropped.
	rootOf := map[verID]verID{}
	carrier := map[verID]string{}
	for k, l := range out.Inputs {
		for i := range p.entries[l] {
			e, s := &p.entries[l][i], &p.st[l][i]
			if e.kind != kHardlink {
				continue
			}
			v := verID{int32(l), int32(i)}
			root := v
			if s.linkTo != none && p.outOf[s.linkTo.layer] == o {
				root = s.linkTo
				if r, ok := rootOf[s.linkTo]; ok {
					root = r
				}
			}
			rootOf[v] = root
			if !s.emitted || root == v {
				continue
			}
			rs := &p.st[root.layer][root.idx]
			re := &p.entries[root.layer][root.idx]
			switch {
			case rs.emitted && !rs.renamed:
				if s.linkTo != root {
					out.actions[k][i] = action{op: opRelink, name: re.path}
				}
			case carrier[root] != "":
				out.actions[k][i] = action{op: opRelink, name: carrier[root]}
			default:
				// The root's entry is written where it stands, under this
				// link's name; this link's own entry is skipped.
				carrier[root] = e.path
				rs.emitted, rs.renamed = true, true
				out.actions[p.inputPos(o, int(root.layer))][root.idx] = action{op: opRename, name: e.path}
				out.actions[k][i] = action{}
				s.emitted, s.carries = false, true
			}
		}
	}
	// Pins: emitted hard links (and renamed roots that are links) whose
	// target is in a lower new layer keep that target.
	for _, l := range out.Inputs {
		for i := range p.entries[l] {
			e, s := &p.entries[l][i], &p.st[l][i]
			if e.kind == kHardlink && s.emitted && s.linkTo != none && p.outOf[s.linkTo.layer] < o {
				p.st[s.linkTo.layer][s.linkTo.idx].pinned = true
			}
		}
	}
	for _, l := range out.Inputs {
		for i := range p.entries[l] {
			e, s := &p.entries[l][i], &p.st[l][i]
			switch {
			case s.emitted || s.carries || e.kind == kWhiteout || e.kind == kOpaque:
			case e.kind == kFile:
				out.DroppedFiles++
				out.DroppedBytes += e.size
			default:
				out.DroppedOther++
			}
		}
	}
}

// inputPos is the position of original layer l in new layer o's Inputs.
func (p *planner) inputPos(o, l int) int { return l - p.groups[o][0] }

// keepWhiteouts keeps the whiteouts and markers a kept entry still needs:
// for every entry that is written although a later layer hid it (a hard
// link's target, pinned), the first writer in its chain of hiders that
// the new image still has — an entry written over it, or a whiteout or
// marker, which is then kept.
func (p *planner) keepWhiteouts() {
	for l := range p.entries {
		for i := range p.entries[l] {
			s := &p.st[l][i]
			// What the new image writes at this entry's path: the entry,
			// or its root's content when it carries it.
			if !(s.emitted && !s.renamed || s.carries) || !s.hidden {
				continue
			}
			for by, guard := s.hiddenBy, 0; guard <= len(p.entries); guard++ {
				bs, be := &p.st[by.layer][by.idx], &p.entries[by.layer][by.idx]
				if be.kind == kWhiteout || be.kind == kOpaque {
					bs.emitted = true
					break
				}
				switch {
				case bs.emitted && !bs.renamed || bs.carries:
				case bs.superseded && !bs.hidden:
					by = bs.supBy
					continue
				case bs.hidden:
					by = bs.hiddenBy
					continue
				}
				break
			}
		}
	}
}

// fronts lists new layer o's kept whiteouts and markers (its first
// entries), skipping a whiteout of a path the layer writes a
// non-directory at (that entry replaces what is below) and turning one
// of a path it writes a directory at into that directory's opaque marker.
func (p *planner) fronts(o int, out *OutLayer) {
	kept := map[string]*front{}
	var order []string
	for _, l := range out.Inputs {
		for i := range p.entries[l] {
			e, s := &p.entries[l][i], &p.st[l][i]
			if (e.kind != kWhiteout && e.kind != kOpaque) || !s.emitted {
				continue
			}
			if f, ok := kept[e.path]; ok {
				f.opaque = f.opaque && e.kind == kOpaque
				continue
			}
			kept[e.path] = &front{path: e.path, opaque: e.kind == kOpaque, src: verID{int32(l), int32(i)}}
			order = append(order, e.path)
		}
	}
	written := map[string]kind{}
	if len(kept) > 0 {
		for k, l := range out.Inputs {
			for i, a := range out.actions[k] {
				e := &p.entries[l][i]
				name := e.path
				if a.op == opRename {
					name = a.name
				}
				if _, ok := kept[name]; ok && a.op != opSkip {
					written[name] = e.kind
				}
			}
		}
	}
	converted := 0
	for _, path := range order {
		f := kept[path]
		if k, ok := written[path]; ok && !f.opaque {
			if k != kDir {
				converted++
				continue
			}
			f.opaque = true
			converted++
		}
		out.front = append(out.front, *f)
	}
	// What changed: anything skipped, renamed or relinked; a whiteout
	// dropped or turned into a marker.
	out.Unchanged = len(out.Inputs) == 1 && converted == 0
	out.Empty = len(out.front) == 0
	for k, l := range out.Inputs {
		for i, a := range out.actions[k] {
			e := &p.entries[l][i]
			if e.kind == kWhiteout || e.kind == kOpaque {
				if !p.st[l][i].emitted {
					out.Unchanged = false
					out.DroppedOther++
				}
				continue
			}
			if a.op != opKeep {
				out.Unchanged = false
			}
			// The root's own entry counts: it sets the mode and owner of "/".
			if a.op != opSkip && e.kind != kMeta {
				out.Empty = false
			}
		}
	}
}

// name is the tar name of a front entry.
func (f *front) name() string {
	if f.opaque {
		return f.path + "/.wh..wh..opq"
	}
	dir, base := path.Split(f.path)
	return dir + ".wh." + base
}
