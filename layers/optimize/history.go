package optimize

import (
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// maxMergedCommand bounds the commands a squash's history line quotes.
const maxMergedCommand = 500

// rewriteHistory returns the config history of the new image: the line
// of each original layer that became part of a squash, or was left
// empty, marked empty_layer (kept: it says how the image was built); a
// line per squash, after the last of its layers, saying which layers it
// merged and their commands; then note (an empty_layer line saying what
// optimize did). Without history it adds only note. A history whose
// layer lines do not match the layers is kept as it is (plus note) when
// every layer stays a layer, and is an error otherwise.
func rewriteHistory(h []v1.History, groups [][]int, emptied []bool, note v1.History) ([]v1.History, error) {
	n := 0
	for _, g := range groups {
		n += len(g)
	}
	if len(h) == 0 {
		return []v1.History{note}, nil
	}
	nonEmpty := 0
	for _, e := range h {
		if !e.EmptyLayer {
			nonEmpty++
		}
	}
	if nonEmpty != n {
		// Which line is which layer's cannot be told: the lines stay as
		// they are when the layers do (none squashed or left out).
		if len(groups) == n && !slices.Contains(emptied, true) {
			return append(slices.Clone(h), note), nil
		}
		return nil, fmt.Errorf("optimize: the config's history has %d layer lines for %d layers: cannot tell which line is which layer's, to squash or leave one out", nonEmpty, n)
	}
	groupOf := make([]int, n)
	for o, g := range groups {
		for _, l := range g {
			groupOf[l] = o
		}
	}
	var out []v1.History
	var merged []string
	l := 0
	for _, e := range h {
		if e.EmptyLayer {
			out = append(out, e)
			continue
		}
		o := groupOf[l]
		g := groups[o]
		switch {
		case emptied[o]:
			e.EmptyLayer = true
			e.Comment = strings.TrimSpace(e.Comment + " (imagegate optimize: nothing of this layer is left)")
			out = append(out, e)
		case len(g) > 1:
			merged = append(merged, e.CreatedBy)
			e.EmptyLayer = true
			out = append(out, e)
			if l == g[len(g)-1] {
				cmds := strings.Join(merged, "; ")
				if len(cmds) > maxMergedCommand {
					cmds = cmds[:maxMergedCommand] + "…"
				}
				out = append(out, v1.History{
					Created:   e.Created,
					CreatedBy: fmt.Sprintf("imagegate optimize: squashed layers %d-%d (%s)", g[0]+1, g[len(g)-1]+1, cmds),
					Comment:   "imagegate optimize",
				})
				merged = nil
			}
		default:
			out = append(out, e)
		}
		l++
	}
	if note.Created.IsZero() && len(out) > 0 {
		note.Created = out[len(out)-1].Created
	}
	return append(out, note), nil
}
