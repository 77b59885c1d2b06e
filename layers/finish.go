package layers

import (
	"cmp"
	"container/heap"
	"slices"
	"strings"
)

// efficiency computes Dive's score and wasted bytes from the occurrences
// (dive/filetree/efficiency.go Efficiency, dive/image/analysis.go
// Analyze): score = Σ smallest size / Σ cumulative size over every path
// (1 when nothing weighs), wasted = Σ cumulative size of the paths two or
// more layers hold or remove.
func (m *merger) efficiency() {
	r := m.rep
	var minimum, discovered int64
	for p, s := range m.eff {
		minimum += s.min
		discovered += s.cum
		if s.count < 2 {
			continue
		}
		r.WastedBytes += s.cum
		if s.cum > 0 {
			r.Inefficiencies = append(r.Inefficiencies, Inefficiency{Path: p, Count: int(s.count), WastedBytes: s.cum})
		}
	}
	r.Efficiency = 1
	if discovered > 0 {
		r.Efficiency = float64(minimum) / float64(discovered)
	}
	if r.TotalBytes > 0 {
		r.WastedPercent = float64(r.WastedBytes) / float64(r.TotalBytes) * 100
	}
	if r.UserBytes > 0 {
		r.WastedUserPercent = float64(r.WastedBytes) / float64(r.UserBytes) * 100
	}
	slices.SortFunc(r.Inefficiencies, func(a, b Inefficiency) int {
		return cmp.Or(cmp.Compare(b.WastedBytes, a.WastedBytes), strings.Compare(a.Path, b.Path))
	})
	r.Inefficiencies = cut(m, r.Inefficiencies, m.lim.MaxListed)
	for i := range r.Inefficiencies {
		r.Inefficiencies[i].Path = displayPath(r.Inefficiencies[i].Path)
	}
}

// final computes the figures of the final tree: its bytes and files, its
// largest files, and the bytes of its recognisable waste by directory and
// layer (for waste).
func (m *merger) final(c *classifier) map[findingKey]int64 {
	r := m.rep
	largest := &fileHeap{}
	waste := make(map[findingKey]int64)
	m.tree.walk(func(nd *node) {
		if nd.kind != File {
			return
		}
		r.ImageBytes += nd.size
		r.ImageFiles++
		if nd.size > 0 {
			if _, dir := c.classify(nd.path); dir != "" {
				waste[findingKey{dir, int(nd.layer)}] += nd.size
			}
		}
		f := FileRef{Path: nd.path, Size: nd.size, Layer: int(nd.layer)}
		if largest.Len() < m.lim.Largest {
			heap.Push(largest, f)
		} else if largerFile(f, (*largest)[0]) {
			(*largest)[0] = f
			heap.Fix(largest, 0)
		}
	})
	r.HiddenBytes = r.TotalBytes - r.ImageBytes
	r.Largest = slices.SortedFunc(slices.Values(*largest), func(a, b FileRef) int {
		if largerFile(a, b) {
			return -1
		}
		return 1
	})
	for i := range r.Largest {
		r.Largest[i].Path = displayPath(r.Largest[i].Path)
	}
	return waste
}

// largerFile orders files by size, largest first, then path.
func largerFile(a, b FileRef) bool {
	if a.Size != b.Size {
		return a.Size > b.Size
	}
	return a.Path < b.Path
}

// fileHeap is a min-heap (by largerFile) of the largest files seen.
type fileHeap []FileRef

func (h fileHeap) Len() int           { return len(h) }
func (h fileHeap) Less(i, j int) bool { return largerFile(h[j], h[i]) }
func (h fileHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *fileHeap) Push(x any)        { *h = append(*h, x.(FileRef)) }
func (h *fileHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// cut bounds a sorted list, noting the cut in the report.
func cut[T any](m *merger, list []T, n int) []T {
	if len(list) > n {
		m.rep.Truncated = true
		return list[:n]
	}
	return list
}
