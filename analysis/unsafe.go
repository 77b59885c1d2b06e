package analysis

import (
	"fmt"

	"github.com/imagegate/imagegate/layers"
)

// RuleUnsafePaths is the Violation.Rule of an image refused for names
// that leave its root (unsafeVerdict): the gate counts such refusals
// apart from waste.
const RuleUnsafePaths = "unsafepaths"

// unsafeNames counts the entries of r whose names tried to leave the
// image's root ("..") or held a NUL byte (layers.LayerIndex.Unsafe), and
// the first layer (0-based) holding one; -1 when there are none.
func unsafeNames(r *layers.Report) (count, first int) {
	first = -1
	for i, l := range r.Layers {
		if l.Unsafe > 0 && first < 0 {
			first = i
		}
		count += l.Unsafe
	}
	return count, first
}

// unsafeVerdict refuses an image holding unsafe names, whatever the
// rule's mode: Docker and containerd root such names, but a tool that
// extracts a layer without doing so (a scanner, a CI step, `tar -P`)
// writes outside its directory — the tar-slip attack. Registries see
// such layers only from crafted pushes; no build tool writes them.
func (rule Rule) unsafeVerdict(count, first int) Verdict {
	entries := "entry whose name leaves the image's root (\"..\") or holds"
	if count > 1 {
		entries = "entries whose names leave the image's root (\"..\") or hold"
	}
	return Verdict{
		Block:      true,
		Violations: []Violation{{Rule: RuleUnsafePaths, Limit: 0, Actual: float64(count)}},
		Outcome:    string(rule.Mode) + ":block",
		Message: fmt.Sprintf("layer %d holds %d %s a NUL byte: "+
			"a tool that extracts it without rooting names would write outside its directory; build the layer from relative paths "+
			"(analysis.allowunsafepaths lets such layers through)", first+1, count, entries),
	}
}
