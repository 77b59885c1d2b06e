package analysis

import (
	"fmt"
	"slices"

	"github.com/imagegate/imagegate/internal/repopattern"
)

// Mode is what a rule does with an image's analysis.
type Mode string

const (
	Enforce Mode = "enforce" // an image past a threshold is refused
	Audit   Mode = "audit"   // the analysis is recorded; the push passes
	Off     Mode = "off"     // nothing is analysed
)

// Rule is the analysis policy of repositories matching Repositories.
// A zero threshold is no rule: a rule without thresholds only records.
type Rule struct {
	Repositories string
	Mode         Mode
	// MinEfficiency is the lowest efficiency (0..1) that passes.
	MinEfficiency float64
	// MaxWastedBytes is the most wasted bytes that pass.
	MaxWastedBytes int64
	// MaxWastedPercent is the highest share of wasted bytes (0..100) that passes.
	MaxWastedPercent float64
	// AllowUnsafePaths lets layers through whose entry names leave the
	// root or hold a NUL byte; otherwise they are refused in every mode
	// but Off (unsafe.go).
	AllowUnsafePaths bool
}

// Set is an ordered list of rules; the first matching rule applies.
type Set struct {
	rules    []Rule
	patterns []repopattern.Pattern
}

// NewSet checks and compiles rules.
func NewSet(rules []Rule) (*Set, error) {
	s := &Set{}
	for i, r := range rules {
		p, err := repopattern.Compile(r.Repositories)
		if err != nil {
			return nil, fmt.Errorf("analysis policy %d: %w", i, err)
		}
		if !slices.Contains([]Mode{Enforce, Audit, Off}, r.Mode) {
			return nil, fmt.Errorf("analysis policy %d (%s): mode must be enforce, audit or off, got %q", i, r.Repositories, r.Mode)
		}
		if r.MinEfficiency < 0 || r.MinEfficiency > 1 || r.MaxWastedBytes < 0 || r.MaxWastedPercent < 0 || r.MaxWastedPercent > 100 {
			return nil, fmt.Errorf("analysis policy %d (%s): thresholds out of range", i, r.Repositories)
		}
		s.rules = append(s.rules, r)
		s.patterns = append(s.patterns, p)
	}
	return s, nil
}

// For returns the rule for repo; without a match, analysis is off.
func (s *Set) For(repo string) Rule {
	if s != nil {
		for i, p := range s.patterns {
			if p.Match(repo) {
				return s.rules[i]
			}
		}
	}
	return Rule{Mode: Off}
}
