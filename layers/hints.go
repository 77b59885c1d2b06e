package layers

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// hints fills Report.Hints, largest saving first. Texts number layers
// from 1, as people (and the gate's messages) do; Hint.Layers are 0-based
// indexes. Savings are uncompressed bytes of the lower layer's blob:
//
//   - delete, for a finding: its bytes go if the layer that wrote them
//     deletes them in the same RUN;
//   - delete, for other files a later layer removed: the same, with the
//     layer that removed them named;
//   - merge, for files a later layer rewrote: merged into one layer, the
//     first versions are never stored;
//   - recompress, for the whole image, in compressed bytes: the blobs as
//     pushed against the zstd size their samples predict.
//
// Texts are written for the hints kept only: a hostile image may remove
// a million paths.
func (m *merger) hints() {
	var hs []Hint
	for _, f := range m.rep.Waste {
		l := m.layers[f.Layer]
		where := fmt.Sprintf("in the same RUN as %q (layer %d)", command(l.CreatedBy), f.Layer+1)
		if f.FinalBytes == 0 {
			where += ", not in a later layer"
		}
		hs = append(hs, Hint{
			Action: "delete",
			Text:   fmt.Sprintf("delete %s %s: saves %s", f.Path, where, HumanBytes(f.Bytes)),
			Layers: []int{f.Layer},
			Bytes:  f.Bytes,
		})
	}
	hs = append(hs, m.removalHints()...)
	if h, ok := m.recompressHint(); ok {
		hs = append(hs, h)
	}
	for k, s := range m.overwrite {
		hs = append(hs, Hint{
			Action: "merge",
			Text: fmt.Sprintf("merge layers %d and %d: layer %d rewrites %s of layer %d (e.g. %s): saves %s",
				k.lower+1, k.upper+1, k.upper+1, files(s.files), k.lower+1, displayPath(s.path), HumanBytes(s.bytes)),
			Layers: []int{int(k.lower), int(k.upper)},
			Bytes:  s.bytes,
		})
	}
	slices.SortFunc(hs, func(a, b Hint) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), strings.Compare(a.Text, b.Text))
	})
	m.rep.Hints = cut(m, hs, m.lim.MaxListed)
}

// removalHints are the delete hints for removals no finding covers, at
// most MaxListed+1 of them (one more than fits, so the list is marked
// truncated), the largest.
func (m *merger) removalHints() []Hint {
	type removal struct {
		removalKey
		bytes int64
	}
	var rs []removal
	for k, b := range m.removal {
		if b > 0 {
			rs = append(rs, removal{k, b})
		}
	}
	slices.SortFunc(rs, func(a, b removal) int {
		return cmp.Or(cmp.Compare(b.bytes, a.bytes), strings.Compare(a.path, b.path),
			cmp.Compare(a.lower, b.lower), cmp.Compare(a.upper, b.upper))
	})
	var hs []Hint
	for _, r := range rs {
		if len(hs) > m.lim.MaxListed {
			break
		}
		if m.coveredByFinding(r.path, int(r.lower)) {
			continue
		}
		l := m.layers[r.lower]
		hs = append(hs, Hint{
			Action: "delete",
			Text: fmt.Sprintf("delete %s in the same RUN as %q (layer %d), not in layer %d: saves %s",
				displayPath(r.path), command(l.CreatedBy), r.lower+1, r.upper+1, HumanBytes(r.bytes)),
			Layers: []int{int(r.lower), int(r.upper)},
			Bytes:  r.bytes,
		})
	}
	return hs
}

// Recompression is worth a hint when it saves at least this many
// compressed bytes and this fraction of them.
const (
	recompressMinBytes    = 1_000_000
	recompressMinFraction = 0.10
)

// recompressHint compares the layers' compressed sizes with their zstd
// estimates, over the layers that have both.
func (m *merger) recompressHint() (Hint, bool) {
	var now, est int64
	var which []int
	for i, l := range m.rep.Layers {
		if l.CompressedSize > 0 && l.ZstdEstimate > 0 {
			now += l.CompressedSize
			est += l.ZstdEstimate
			which = append(which, i)
		}
	}
	saving := now - est
	if saving < recompressMinBytes || float64(saving) < recompressMinFraction*float64(now) {
		return Hint{}, false
	}
	return Hint{
		Action: "recompress",
		Text: fmt.Sprintf("recompress with zstd: about %s instead of %s (estimated from a sample of file contents): saves about %s",
			HumanBytes(est), HumanBytes(now), HumanBytes(saving)),
		Layers: which,
		Bytes:  saving,
	}, true
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
