package layers

import (
	"cmp"
	"path"
	"slices"
	"strings"
)

// wastePattern recognises a directory whose files no running container
// needs. Each component of dir is matched with path.Match ("*" is one
// component); an anywhere pattern may start at any depth. The files
// under the matched directory are the waste.
type wastePattern struct {
	kind     string
	dir      []string
	anywhere bool
}

// wastePatterns is the conservative list docs/layers.md documents: caches
// of package managers and build tools, git metadata, C and Go toolchains
// (see goToolchain), test data shipped with Go modules or Python
// packages, temporary files.
var wastePatterns = []wastePattern{
	{kind: "package-cache", dir: []string{"var", "cache", "apt"}},
	{kind: "package-cache", dir: []string{"var", "lib", "apt", "lists"}},
	{kind: "package-cache", dir: []string{"var", "cache", "apk"}},
	{kind: "package-cache", dir: []string{"var", "cache", "yum"}},
	{kind: "package-cache", dir: []string{"var", "cache", "dnf"}},
	{kind: "package-cache", dir: []string{"root", ".cache", "pip"}},
	{kind: "package-cache", dir: []string{"home", "*", ".cache", "pip"}},
	{kind: "package-cache", dir: []string{"root", ".npm", "_cacache"}},
	{kind: "package-cache", dir: []string{"home", "*", ".npm", "_cacache"}},
	{kind: "package-cache", dir: []string{"root", ".cache", "yarn"}},
	{kind: "package-cache", dir: []string{"home", "*", ".cache", "yarn"}},
	{kind: "package-cache", dir: []string{"usr", "local", "share", ".cache", "yarn"}},
	{kind: "package-cache", dir: []string{"root", ".cache", "go-build"}},
	{kind: "package-cache", dir: []string{"home", "*", ".cache", "go-build"}},
	{kind: "package-cache", dir: []string{"go", "pkg", "mod", "cache"}},
	{kind: "package-cache", dir: []string{"root", "go", "pkg", "mod", "cache"}},
	{kind: "git", dir: []string{".git"}, anywhere: true},
	{kind: "toolchain", dir: []string{"usr", "lib", "gcc"}},
	{kind: "toolchain", dir: []string{"usr", "libexec", "gcc"}},
	{kind: "toolchain", dir: []string{"usr", "local", "go", "pkg"}},
	{kind: "test-data", dir: []string{"testdata"}, anywhere: true},
	{kind: "test-data", dir: []string{"usr", "lib", "python3*", "site-packages", "*", "tests"}},
	{kind: "test-data", dir: []string{"usr", "local", "lib", "python3*", "site-packages", "*", "tests"}},
	{kind: "temp", dir: []string{"tmp"}},
	{kind: "temp", dir: []string{"var", "tmp"}},
}

// goToolchain is the file that makes an image a Go toolchain image: in
// one, /usr/local/go/pkg is the toolchain's own and no waste.
const goToolchain = "usr/local/go/bin/go"

// classifier matches paths against wastePatterns: the patterns that
// start at the root by their first component, the others (anywhere) by
// a scan of the path's components; of several matches, the first in the
// list wins.
type classifier struct {
	byFirst  map[string][]compiled
	anywhere []compiled
	comps    []string // scratch
}

// compiled is a wastePattern with its place in the list and which
// components are globs.
type compiled struct {
	wastePattern
	order int
	glob  []bool
}

func newClassifier(goImage bool) *classifier {
	c := &classifier{byFirst: make(map[string][]compiled)}
	for i, p := range wastePatterns {
		if goImage && slices.Equal(p.dir, []string{"usr", "local", "go", "pkg"}) {
			continue
		}
		cp := compiled{wastePattern: p, order: i}
		for _, comp := range p.dir {
			cp.glob = append(cp.glob, strings.ContainsAny(comp, "*?["))
		}
		if p.anywhere || cp.glob[0] {
			c.anywhere = append(c.anywhere, cp)
		} else {
			c.byFirst[p.dir[0]] = append(c.byFirst[p.dir[0]], cp)
		}
	}
	return c
}

// classify returns the kind of waste file p is and the directory that
// makes it so ("" if none). The directory shares p's memory.
func (c *classifier) classify(p string) (kind, dir string) {
	c.comps = c.comps[:0]
	for rest := p; ; {
		comp, after, found := strings.Cut(rest, "/")
		c.comps = append(c.comps, comp)
		if !found {
			break
		}
		rest = after
	}
	dirs := c.comps[:len(c.comps)-1] // the file itself is no directory
	if len(dirs) == 0 {
		return "", ""
	}
	best, bestEnd := -1, 0
	try := func(pat *compiled, at int) {
		if (best < 0 || pat.order < best) && at+len(pat.dir) <= len(dirs) && pat.match(dirs[at:at+len(pat.dir)]) {
			best, bestEnd = pat.order, at+len(pat.dir)
		}
	}
	for i := range c.byFirst[dirs[0]] {
		try(&c.byFirst[dirs[0]][i], 0)
	}
	for i := range c.anywhere {
		pat := &c.anywhere[i]
		last := 0
		if pat.anywhere {
			last = len(dirs) - len(pat.dir)
		}
		for at := 0; at <= last; at++ {
			try(pat, at)
		}
	}
	if best < 0 {
		return "", ""
	}
	return wastePatterns[best].kind, p[:compEnd(c.comps, bestEnd)]
}

// match matches components against the pattern's, one for one.
func (pat *compiled) match(comps []string) bool {
	for i, want := range pat.dir {
		if !pat.glob[i] {
			if want != comps[i] {
				return false
			}
			continue
		}
		if ok, _ := path.Match(want, comps[i]); !ok {
			return false
		}
	}
	return true
}

// compEnd is the byte length of the first n components joined by "/".
func compEnd(comps []string, n int) int {
	end := n - 1
	for _, c := range comps[:n] {
		end += len(c)
	}
	return end
}

// findingKey groups waste by directory and the layer that wrote it.
type findingKey struct {
	dir   string
	layer int
}

// waste fills Report.Waste: for every layer, the files of its index that
// a pattern recognises, grouped by directory; then what of them the
// final tree still shows (final, counted by the final tree's walk).
func (m *merger) waste(c *classifier, final map[findingKey]int64) {
	found := make(map[findingKey]*Finding)
	for i, l := range m.layers {
		for _, e := range l.Index.Entries {
			if e.Kind != File || e.Whiteout || e.Size == 0 {
				continue
			}
			kind, dir := c.classify(e.Path)
			if kind == "" {
				continue
			}
			k := findingKey{dir, i}
			f := found[k]
			if f == nil {
				f = &Finding{Kind: kind, Path: displayPath(dir), Layer: i, CreatedBy: l.CreatedBy, FinalBytes: final[k]}
				found[k] = f
			}
			f.Bytes += e.Size
			f.Files++
		}
	}
	for _, f := range found {
		m.rep.Waste = append(m.rep.Waste, *f)
	}
	slices.SortFunc(m.rep.Waste, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), cmp.Compare(a.Layer, b.Layer), strings.Compare(a.Path, b.Path))
	})
	m.rep.Waste = cut(m, m.rep.Waste, m.lim.MaxListed)
}
