package config

import "time"

// GC configures online garbage collection (lifecycle.gc,
// docs/lifecycle.md "Garbage collection").
type GC struct {
	// Grace: a blob stored less than this long ago, or a manifest
	// untagged for less, is never collected; at least 10 minutes.
	Grace time.Duration `yaml:"grace"`
	// Untagged is keep (default) or delete: whether a manifest no tag,
	// live index or live subject keeps is deleted.
	Untagged string `yaml:"untagged"`
	// UntaggedAge: an untagged manifest is deleted only once its
	// references were indexed this long ago (default: grace).
	UntaggedAge time.Duration `yaml:"untaggedage"`
	// Interval is how often one replica runs a pass; 0 (default): only
	// when asked (`imagegate gc`, POST /api/v1/gc/run).
	Interval time.Duration `yaml:"interval"`
	// MaxDeletions bounds the manifests plus blobs one pass deletes.
	MaxDeletions int `yaml:"maxdeletions"`
}

// minGCGrace is the shortest grace: longer than a push may take between
// touching what it references and storing the manifest (gc.InFlight).
const minGCGrace = 10 * time.Minute

func defaultGC() GC {
	return GC{Grace: 24 * time.Hour, Untagged: "keep", MaxDeletions: 10000}
}

func (g GC) validate(bad func(key, format string, args ...any)) {
	if g.Grace < minGCGrace {
		bad("lifecycle.gc.grace", "must be at least %s (pushes in flight must outlive it), got %s", minGCGrace, g.Grace)
	}
	if g.Untagged != "keep" && g.Untagged != "delete" {
		bad("lifecycle.gc.untagged", "must be keep or delete, got %q", g.Untagged)
	}
	if g.UntaggedAge < 0 {
		bad("lifecycle.gc.untaggedage", "must not be negative (0: grace), got %s", g.UntaggedAge)
	}
	if g.Interval < 0 {
		bad("lifecycle.gc.interval", "must not be negative (0: never on its own), got %s", g.Interval)
	}
	if g.MaxDeletions < 1 || g.MaxDeletions > 1_000_000 {
		bad("lifecycle.gc.maxdeletions", "must be between 1 and 1000000, got %d", g.MaxDeletions)
	}
}
