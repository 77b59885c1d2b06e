package optimize

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Range is a run of original layers to squash into one, 0-based and
// inclusive. All is every layer.
type Range struct {
	First, Last int
	All         bool
}

// ParseRange reads "2-5" (layers numbered from 1, as `imagegate analyze`
// prints them), "3" (a no-op run of one) or "all".
func ParseRange(s string) (Range, error) {
	if s == "all" {
		return Range{All: true}, nil
	}
	a, b, isRange := strings.Cut(s, "-")
	first, err1 := strconv.Atoi(a)
	last, err2 := first, error(nil)
	if isRange {
		last, err2 = strconv.Atoi(b)
	}
	if err1 != nil || err2 != nil || first < 1 || last < first {
		return Range{}, fmt.Errorf("squash %q: want FIRST-LAST (layers from 1, FIRST ≤ LAST) or all", s)
	}
	return Range{First: first - 1, Last: last - 1}, nil
}

// String is the range as ParseRange reads it.
func (r Range) String() string {
	if r.All {
		return "all"
	}
	return fmt.Sprintf("%d-%d", r.First+1, r.Last+1)
}

// groups turns ranges into the new layers' groups of n original layers:
// each range one group, every other layer alone. Ranges past n or
// overlapping each other are an error.
func groups(n int, ranges []Range) ([][]int, error) {
	owner := make([]int, n)
	for i := range owner {
		owner[i] = -1
	}
	for k, r := range ranges {
		if r.All {
			r = Range{First: 0, Last: n - 1}
		}
		if r.First < 0 || r.Last >= n || r.First > r.Last {
			return nil, fmt.Errorf("optimize: squash %s: the image has %d layers", r, n)
		}
		for i := r.First; i <= r.Last; i++ {
			if owner[i] >= 0 {
				return nil, fmt.Errorf("optimize: squash %s overlaps squash %s", r, ranges[owner[i]])
			}
			owner[i] = k
		}
	}
	var out [][]int
	for i := 0; i < n; i++ {
		g := []int{i}
		for owner[i] >= 0 && i+1 < n && owner[i+1] == owner[i] {
			i++
			g = append(g, i)
		}
		out = append(out, slices.Clip(g))
	}
	return out, nil
}
