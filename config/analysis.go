package config

import (
	"fmt"
	"slices"

	"github.com/imagegate/imagegate/internal/repopattern"
)

// Analysis configures the layer analysis of every pushed image (package
// analysis, docs/layers.md): what each layer adds and removes, the bytes
// no container sees (wasted) and the image's efficiency, as Dive defines
// them. Per repository pattern a policy analyses and records (audit),
// also refuses images past its thresholds (enforce), or skips (off).
//
// Without configuration every image is analysed and its summary recorded
// ("**" in audit mode, no thresholds): nothing is ever refused for waste
// until a policy says so.
type Analysis struct {
	// Policies, first match wins; repositories matching none are not analysed.
	Policies []AnalysisPolicy `yaml:"policies"`
	// MaxLayerEntries bounds the tar entries of one layer; an image past
	// it cannot be analysed (refused under enforce, recorded under audit).
	MaxLayerEntries int `yaml:"maxlayerentries"`
	// MaxImageEntries bounds the distinct paths of one image, likewise.
	MaxImageEntries int `yaml:"maximageentries"`
	// AllowUnsafePaths lets layers through whose entry names leave the
	// image's root ("../../etc/passwd") or hold a NUL byte. By default
	// every policy that analyses (enforce and audit) refuses them: no
	// build tool writes such names, and a tool that extracts a layer
	// without rooting them writes outside its directory.
	AllowUnsafePaths bool `yaml:"allowunsafepaths"`
}

// AnalysisPolicy is what the gate does with the analysis of images pushed
// to repositories matching a pattern. A threshold left at 0 is not checked.
type AnalysisPolicy struct {
	Repositories string `yaml:"repositories"`
	// Mode is enforce (refuse past a threshold), audit (record only) or off.
	Mode string `yaml:"mode"`
	// MinEfficiency is the lowest efficiency that passes, 0..1 (Dive's "lowestEfficiency").
	MinEfficiency float64 `yaml:"minefficiency"`
	// MaxWastedBytes is the most wasted bytes that pass (Dive's "highestWastedBytes").
	MaxWastedBytes int64 `yaml:"maxwastedbytes"`
	// MaxWastedPercent is the highest share of the image's bytes (every
	// layer's files) that may be wasted, 0..100. Dive's
	// highestUserWastedPercent divides by the bytes above the base layer
	// instead; this is the figure the refusal message prints.
	MaxWastedPercent float64 `yaml:"maxwastedpercent"`
}

func defaultAnalysis() Analysis {
	return Analysis{
		Policies:        []AnalysisPolicy{{Repositories: "**", Mode: "audit"}},
		MaxLayerEntries: 1_000_000,
		MaxImageEntries: 2_000_000,
	}
}

func (a Analysis) validate(bad func(key, format string, args ...any)) {
	if a.MaxLayerEntries < 1 {
		bad("analysis.maxlayerentries", "must be at least 1, got %d", a.MaxLayerEntries)
	}
	if a.MaxImageEntries < a.MaxLayerEntries {
		bad("analysis.maximageentries", "must be at least analysis.maxlayerentries (%d), got %d", a.MaxLayerEntries, a.MaxImageEntries)
	}
	for i, p := range a.Policies {
		key := fmt.Sprintf("analysis.policies[%d]", i)
		if _, err := repopattern.Compile(p.Repositories); err != nil {
			bad(key+".repositories", "%v", err)
		}
		if !slices.Contains([]string{"enforce", "audit", "off"}, p.Mode) {
			bad(key+".mode", "must be enforce, audit or off, got %q", p.Mode)
		}
		if p.MinEfficiency < 0 || p.MinEfficiency > 1 {
			bad(key+".minefficiency", "must be between 0 and 1 (0.9 is 90 %%), got %g", p.MinEfficiency)
		}
		if p.MaxWastedBytes < 0 {
			bad(key+".maxwastedbytes", "must not be negative (0: not checked), got %d", p.MaxWastedBytes)
		}
		if p.MaxWastedPercent < 0 || p.MaxWastedPercent > 100 {
			bad(key+".maxwastedpercent", "must be between 0 and 100, got %g", p.MaxWastedPercent)
		}
		if p.Mode == "enforce" && p.MinEfficiency == 0 && p.MaxWastedBytes == 0 && p.MaxWastedPercent == 0 {
			bad(key, "enforce needs a threshold (minefficiency, maxwastedbytes or maxwastedpercent); without one use audit")
		}
	}
}
