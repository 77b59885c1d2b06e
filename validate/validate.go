// Package validate checks a pushed manifest before it may become
// addressable: its format, the integrity of every blob it references
// (present, with the declared size), its image config, its layer media
// types, the configured size limits and per-repository lint rules. Every
// refusal is an OCI error (errcode.Error) a client can act on.
package validate

import (
	"fmt"

	"github.com/imagegate/imagegate/diffid"
	"github.com/imagegate/imagegate/internal/repopattern"
)

// Limits bound an image; zero means unlimited.
type Limits struct {
	MaxLayers     int
	MaxLayerBytes int64
	MaxImageBytes int64
	// MaxIndexManifests bounds the manifests an index lists: the gate
	// looks up every child's record, and the commit stats each and
	// writes their digests into one gc references entry.
	MaxIndexManifests int
}

// LintRule requires labels (in the image config) and annotations (in the
// manifest) on images pushed to repositories matching Repositories.
type LintRule struct {
	Repositories string
	Labels       []string
	Annotations  []string
}

// Options configure a Validator.
type Options struct {
	Limits Limits
	// AllowArtifacts accepts OCI artifacts: manifests whose config is not
	// an image config, or that declare an artifactType.
	AllowArtifacts bool
	// AllowForeignLayers accepts non-distributable layers (URLs elsewhere).
	AllowForeignLayers bool
	// ExtraLayerMediaTypes are accepted besides the standard layer types.
	ExtraLayerMediaTypes []string
	Lint                 []LintRule
	// DiffIDs verifies the config's diff_ids against the layers' content;
	// nil skips the check (the gate always sets it).
	DiffIDs *diffid.Resolver
	// ConfigBudget bounds the image config bytes held at once across
	// concurrent Validate calls (and results that keep them): a check
	// waits for room, at most 30 s, then is refused with 429
	// TOOMANYREQUESTS. Zero means DefaultConfigBudget; it must be at
	// least 8 MiB, the largest config accepted.
	ConfigBudget int64
}

// Validator checks manifests against its options. It is safe for
// concurrent use.
type Validator struct {
	opts       Options
	layerTypes map[string]bool
	lint       []compiledRule
	budget     *configBudget
}

type compiledRule struct {
	LintRule
	pattern repopattern.Pattern
}

// New compiles opts.
func New(opts Options) (*Validator, error) {
	budget, err := newConfigBudget(opts.ConfigBudget)
	if err != nil {
		return nil, err
	}
	v := &Validator{opts: opts, layerTypes: map[string]bool{}, budget: budget}
	for _, t := range imageLayerTypes {
		v.layerTypes[t] = true
	}
	if opts.AllowForeignLayers {
		for _, t := range foreignLayerTypes {
			v.layerTypes[t] = true
		}
	}
	for _, t := range opts.ExtraLayerMediaTypes {
		v.layerTypes[t] = true
	}
	for i, r := range opts.Lint {
		p, err := repopattern.Compile(r.Repositories)
		if err != nil {
			return nil, fmt.Errorf("validate: lint rule %d: %w", i, err)
		}
		v.lint = append(v.lint, compiledRule{LintRule: r, pattern: p})
	}
	return v, nil
}
