package config

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/imagegate/imagegate/internal/repopattern"
	"github.com/imagegate/imagegate/lifecycle"
)

// Lifecycle configures what may happen to content once pushed
// (docs/lifecycle.md): immutable tags and storage quotas.
type Lifecycle struct {
	// Immutable rules: a tag of a repository matching Repositories that
	// matches one of Tags may be created, never moved to another digest or
	// deleted (an administrator may override, recorded).
	Immutable []ImmutableRule `yaml:"immutable"`
	// Quotas, first match wins; repositories matching none have no quota.
	Quotas []Quota `yaml:"quotas"`
	// QuotaWarnPercent is the share of a quota past which a namespace is
	// reported (a log line and a quota.warning event), 1..100.
	QuotaWarnPercent int `yaml:"quotawarnpercent"`
	// QuotaReconcile is how often one replica walks the stored manifests
	// of repositories with a quota and charges those not charged yet
	// (pushed before the quota existed); 0: never.
	QuotaReconcile time.Duration `yaml:"quotareconcile"`
	// Retention rules, first match wins: which tags `imagegate retention
	// apply` deletes (docs/lifecycle.md); repositories matching none keep
	// every tag.
	Retention []RetentionRule `yaml:"retention"`
	// RetentionMaxDeletions bounds the tags one apply call deletes; the
	// caller calls again for the rest.
	RetentionMaxDeletions int `yaml:"retentionmaxdeletions"`
	// RetentionSchedule is how often one replica applies retention on its
	// own (as `imagegate retention apply`, at most retentionmaxdeletions
	// tags a run); 0 (the default): never, only when an administrator
	// calls apply.
	RetentionSchedule time.Duration `yaml:"retentionschedule"`
	// Pulls configures last-pull tracking (package pulls).
	Pulls Pulls `yaml:"pulls"`
	// GC is online garbage collection (config/gc.go).
	GC GC `yaml:"gc"`
}

// Pulls configures last-pull tracking: each replica notes manifest GETs
// in a bounded buffer and flushes it to the fleet store every
// FlushInterval.
type Pulls struct {
	Enabled bool `yaml:"enabled"`
	// FlushInterval is how often a replica writes its buffered pulls; a
	// replica that crashes loses at most this much.
	FlushInterval time.Duration `yaml:"flushinterval"`
	// MaxEntries bounds the (repository, digest) pairs buffered between
	// two flushes; pulls of new pairs past it are dropped and counted.
	MaxEntries int `yaml:"maxentries"`
	// Expiry is how long a pull record lives after the latest pull it
	// records; it must cover every rule's keeppulleddays.
	Expiry time.Duration `yaml:"expiry"`
}

// RetentionRule is one retention policy: a tag of a matching repository is
// kept when it is immutable, matches KeepTags, is among the KeepLast most
// recently pushed, or was pushed within KeepDays; otherwise deleted.
type RetentionRule struct {
	Repositories string `yaml:"repositories"`
	KeepLast     int    `yaml:"keeplast"`
	KeepDays     int    `yaml:"keepdays"`
	// KeepPulledDays keeps tags whose manifest was pulled within that
	// many days (lifecycle.pulls must be enabled); 0: no pull clause.
	KeepPulledDays int      `yaml:"keeppulleddays"`
	KeepTags       []string `yaml:"keeptags"`
	// Untagged is keep (default: a manifest left without tags stays, for
	// garbage collection) or delete.
	Untagged string `yaml:"untagged"`
}

// ImmutableRule makes tags immutable in repositories matching a pattern.
type ImmutableRule struct {
	Repositories string `yaml:"repositories"`
	// Tags are globs ("v*.*.*", "release-*") or "semver" (MAJOR.MINOR.PATCH,
	// an optional "v" and pre-release).
	Tags []string `yaml:"tags"`
}

// Quota bounds the bytes stored for repositories matching a pattern.
type Quota struct {
	Repositories string `yaml:"repositories"`
	// Scope is namespace (each namespace — the name up to the first "/" —
	// of a matching repository has its own budget of MaxBytes) or pattern
	// (every matching repository shares one budget).
	Scope string `yaml:"scope"`
	// MaxBytes is the budget, in bytes, of unique blobs and manifests;
	// 0: no byte limit.
	MaxBytes int64 `yaml:"maxbytes"`
	// MaxRepositories bounds the repositories holding images in the
	// budget; 0: no limit.
	MaxRepositories int64 `yaml:"maxrepositories"`
}

func defaultLifecycle() Lifecycle {
	return Lifecycle{Immutable: []ImmutableRule{}, Quotas: []Quota{}, QuotaWarnPercent: 80, QuotaReconcile: 24 * time.Hour,
		Retention: []RetentionRule{}, RetentionMaxDeletions: 1000, GC: defaultGC(),
		Pulls: Pulls{Enabled: true, FlushInterval: time.Minute, MaxEntries: 100000, Expiry: 90 * 24 * time.Hour}}
}

// ImmutableRules are the immutability rules as package lifecycle takes them.
func (l Lifecycle) ImmutableRules() []lifecycle.ImmutableRule {
	out := make([]lifecycle.ImmutableRule, 0, len(l.Immutable))
	for _, r := range l.Immutable {
		out = append(out, lifecycle.ImmutableRule{Repositories: r.Repositories, Tags: r.Tags})
	}
	return out
}

// RetentionRules are the retention rules as package lifecycle takes them.
func (l Lifecycle) RetentionRules() []lifecycle.RetentionRule {
	out := make([]lifecycle.RetentionRule, 0, len(l.Retention))
	for _, r := range l.Retention {
		out = append(out, lifecycle.RetentionRule{Repositories: r.Repositories, KeepLast: r.KeepLast,
			KeepDays: r.KeepDays, KeepPulledDays: r.KeepPulledDays, KeepTags: r.KeepTags, DeleteUntagged: r.Untagged == "delete"})
	}
	return out
}

// maxRetentionDeletions bounds lifecycle.retentionmaxdeletions.
const maxRetentionDeletions = 100000

func (l Lifecycle) validateRetention(bad func(key, format string, args ...any)) {
	for i, r := range l.Retention {
		if !slices.Contains([]string{"", "keep", "delete"}, r.Untagged) {
			bad(fmt.Sprintf("lifecycle.retention[%d].untagged", i), "must be keep or delete, got %q", r.Untagged)
		}
	}
	if _, err := lifecycle.NewRetention(l.RetentionRules()); err != nil {
		var ke *lifecycle.KeyError
		if errors.As(err, &ke) {
			bad(ke.Key, "%v", ke.Err)
		} else {
			bad("lifecycle.retention", "%v", err)
		}
	}
	for i, r := range l.Retention {
		if r.KeepPulledDays == 0 {
			continue
		}
		key := fmt.Sprintf("lifecycle.retention[%d].keeppulleddays", i)
		switch {
		case !l.Pulls.Enabled:
			bad(key, "needs lifecycle.pulls.enabled: true (pulls are not tracked)")
		case time.Duration(r.KeepPulledDays)*24*time.Hour > l.Pulls.Expiry:
			bad(key, "%d days is longer than lifecycle.pulls.expiry %s: pulls would be forgotten before the rule reads them", r.KeepPulledDays, l.Pulls.Expiry)
		}
	}
	if l.RetentionSchedule < 0 {
		bad("lifecycle.retentionschedule", "must not be negative (0: never), got %s", l.RetentionSchedule)
	} else if l.RetentionSchedule > 0 && l.RetentionSchedule < time.Minute {
		bad("lifecycle.retentionschedule", "must be at least 1m (or 0: never), got %s", l.RetentionSchedule)
	}
	if p := l.Pulls; p.Enabled {
		if p.FlushInterval < time.Second || p.FlushInterval > time.Hour {
			bad("lifecycle.pulls.flushinterval", "must be between 1s and 1h, got %s", p.FlushInterval)
		}
		if p.MaxEntries < 1 || p.MaxEntries > 10000000 {
			bad("lifecycle.pulls.maxentries", "must be between 1 and 10000000, got %d", p.MaxEntries)
		}
		if p.Expiry < 24*time.Hour {
			bad("lifecycle.pulls.expiry", "must be at least 24h, got %s", p.Expiry)
		}
	}
	if l.RetentionMaxDeletions < 1 || l.RetentionMaxDeletions > maxRetentionDeletions {
		bad("lifecycle.retentionmaxdeletions", "must be between 1 and %d, got %d", maxRetentionDeletions, l.RetentionMaxDeletions)
	}
}

func (l Lifecycle) validate(bad func(key, format string, args ...any)) {
	l.validateRetention(bad)
	l.GC.validate(bad)
	for i, r := range l.Immutable {
		key := fmt.Sprintf("lifecycle.immutable[%d]", i)
		if _, err := repopattern.Compile(r.Repositories); err != nil {
			bad(key+".repositories", "%v", err)
		}
		if len(r.Tags) == 0 {
			bad(key+".tags", "needs at least one tag pattern (a glob such as \"v*.*.*\", or %q)", lifecycle.Semver)
		}
		for j, t := range r.Tags {
			if _, err := lifecycle.CompileTag(t); err != nil {
				bad(fmt.Sprintf("%s.tags[%d]", key, j), "%v", err)
			}
		}
	}
	for i, q := range l.Quotas {
		key := fmt.Sprintf("lifecycle.quotas[%d]", i)
		if _, err := repopattern.Compile(q.Repositories); err != nil {
			bad(key+".repositories", "%v", err)
		}
		if !slices.Contains([]string{"namespace", "pattern"}, q.Scope) {
			bad(key+".scope", "must be namespace or pattern, got %q", q.Scope)
		}
		if q.MaxBytes < 0 {
			bad(key+".maxbytes", "must not be negative (0: no byte limit), got %d", q.MaxBytes)
		}
		if q.MaxRepositories < 0 {
			bad(key+".maxrepositories", "must not be negative (0: no limit), got %d", q.MaxRepositories)
		}
		if q.MaxBytes == 0 && q.MaxRepositories == 0 {
			bad(key, "needs maxbytes or maxrepositories")
		}
	}
	if l.QuotaReconcile < 0 {
		bad("lifecycle.quotareconcile", "must not be negative (0: never), got %s", l.QuotaReconcile)
	}
	if l.QuotaWarnPercent < 1 || l.QuotaWarnPercent > 100 {
		bad("lifecycle.quotawarnpercent", "must be between 1 and 100, got %d", l.QuotaWarnPercent)
	}
}
