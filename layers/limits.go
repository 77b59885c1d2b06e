package layers

import (
	"errors"
	"fmt"
)

// Limits bound Index and Analyze. A zero field takes its value in
// DefaultLimits; a negative field is treated as zero (the default).
type Limits struct {
	MaxEntries   int // entries in one layer (default 1,000,000)
	MaxPathBytes int // bytes of one cleaned path (default 4096)
	MaxDepth     int // components of one path (default 256)
	// MaxIndexBytes bounds the bytes of all paths of one layer (default
	// 64 MiB): MaxEntries paths of MaxPathBytes each would be 4 GB.
	MaxIndexBytes   int
	MaxImageEntries int // distinct paths across the image (default 2,000,000)
	Largest         int // files listed in Report.Largest (default 20)
	// MaxListed bounds each other list of a Report (Inefficiencies,
	// Waste, Hints; default 100).
	MaxListed int
}

// DefaultLimits are the limits a zero Limits field takes.
var DefaultLimits = Limits{
	MaxEntries:      1_000_000,
	MaxPathBytes:    4096,
	MaxDepth:        256,
	MaxIndexBytes:   64 << 20,
	MaxImageEntries: 2_000_000,
	Largest:         20,
	MaxListed:       100,
}

// withDefaults returns lim with every zero or negative field set to its
// default.
func (lim Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&lim.MaxEntries, DefaultLimits.MaxEntries)
	def(&lim.MaxPathBytes, DefaultLimits.MaxPathBytes)
	def(&lim.MaxDepth, DefaultLimits.MaxDepth)
	def(&lim.MaxIndexBytes, DefaultLimits.MaxIndexBytes)
	def(&lim.MaxImageEntries, DefaultLimits.MaxImageEntries)
	def(&lim.Largest, DefaultLimits.Largest)
	def(&lim.MaxListed, DefaultLimits.MaxListed)
	return lim
}

// ErrLimit is matched (errors.Is) by every *LimitError.
var ErrLimit = errors.New("layers: a limit was passed")

// LimitError names the limit a layer or image passed (for a 4xx message).
type LimitError struct {
	Limit string // "entries", "path bytes", "depth", "index bytes", "image entries"
	Max   int
	Layer int // 0-based layer index, -1 for the image; Index leaves it 0 (the caller knows the position)
}

// Error says what passed which limit, without the layer (the caller
// names it: Index does not know the layer's position): "layers: more
// than 1000000 entries in one layer".
func (e *LimitError) Error() string {
	switch e.Limit {
	case "entries":
		return fmt.Sprintf("layers: more than %d entries in one layer", e.Max)
	case "path bytes":
		return fmt.Sprintf("layers: a path longer than %d bytes", e.Max)
	case "depth":
		return fmt.Sprintf("layers: a path deeper than %d components", e.Max)
	case "index bytes":
		return fmt.Sprintf("layers: more than %d bytes of paths in one layer", e.Max)
	case "image entries":
		return fmt.Sprintf("layers: more than %d paths in the image", e.Max)
	}
	return fmt.Sprintf("layers: past the limit of %d %s", e.Max, e.Limit)
}

// Is makes errors.Is(err, ErrLimit) true for every *LimitError.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }
