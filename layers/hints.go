package layers

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// hints fills Report.Hints, largest saving first. Savings are
// uncompressed bytes of the lower layer's blob:
//
//   - delete, for a finding: its bytes go if the layer that wrote them
//     deletes them in the same RUN;
//   - delete, for other files a later layer removed: the same, with the
//     layer that removed them named;
//   - merge, for files a later layer rewrote: merged into one layer, the
//     first versions are never stored.
func (m *merger) hints() {
	var hs []Hint
	for _, f := range m.rep.Waste {
		l := m.layers[f.Layer]
		where := fmt.Sprintf("in the same RUN as %q (layer %d)", command(l.CreatedBy), f.Layer)
		if f.FinalBytes == 0 {
			where += ", not in a later layer"
		}
		hs = append(hs, Hint{
			Action: "delete",
			Text:   fmt.Sprintf("delete %s %s: saves %s", f.Path, where, humanBytes(f.Bytes)),
			Layers: []int{f.Layer},
			Bytes:  f.Bytes,
		})
	}
	for k, bytes := range m.removal {
		if bytes == 0 || m.coveredByFinding(k.path, int(k.lower)) {
			continue
		}
		l := m.layers[k.lower]
		hs = append(hs, Hint{
			Action: "delete",
			Text: fmt.Sprintf("delete %s in the same RUN as %q (layer %d), not in layer %d: saves %s",
				displayPath(k.path), command(l.CreatedBy), k.lower, k.upper, humanBytes(bytes)),
			Layers: []int{int(k.lower), int(k.upper)},
			Bytes:  bytes,
		})
	}
	for k, s := range m.overwrite {
		hs = append(hs, Hint{
			Action: "merge",
			Text: fmt.Sprintf("merge layers %d and %d: layer %d rewrites %d files of layer %d (e.g. %s): saves %s",
				k.lower, k.upper, k.upper, s.files, k.lower, displayPath(s.path), humanBytes(s.bytes)),
			Layers: []int{int(k.lower), int(k.upper)},
			Bytes:  s.bytes,
		})
	}
	slices.SortFunc(hs, func(a, b Hint) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), strings.Compare(a.Text, b.Text))
	})
	m.rep.Hints = cut(m, hs, m.lim.MaxListed)
}

// coveredByFinding says a finding of layer already names the files a
// removal of p took (p is the finding's directory, inside it, or above
// it).
func (m *merger) coveredByFinding(p string, layer int) bool {
	p = displayPath(p)
	for _, f := range m.rep.Waste {
		if f.Layer == layer && (within(p, f.Path) || within(f.Path, p)) {
			return true
		}
	}
	return false
}

// within says p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir) && p[len(dir)] == '/'
}
