package tagpage

import (
	"slices"
	"testing"
)

func TestCut(t *testing.T) {
	names := func() []string { return []string{"v1.0", "v1", "1.0.1", "v1-rc", "1.0", "V1"} }
	cases := []struct {
		last  string
		limit int
		want  []string
		more  bool
	}{
		{"", -1, []string{"1.0", "1.0.1", "V1", "v1", "v1-rc", "v1.0"}, false},
		{"", 2, []string{"1.0", "1.0.1"}, true},
		{"1.0.1", 2, []string{"V1", "v1"}, true},
		{"v1", 2, []string{"v1-rc", "v1.0"}, false},
		{"v0", 10, []string{"v1", "v1-rc", "v1.0"}, false}, // last need not be a tag
		{"v1.0", 1, []string{}, false},
		{"zzz", 1, []string{}, false},
	}
	for _, c := range cases {
		got, more := Cut(names(), c.last, c.limit)
		if !slices.Equal(got, c.want) || more != c.more {
			t.Errorf("Cut(last %q, limit %d) = %q, %v; want %q, %v", c.last, c.limit, got, more, c.want, c.more)
		}
	}
}
