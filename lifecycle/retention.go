package lifecycle

import (
	"errors"
	"fmt"

	"github.com/imagegate/imagegate/internal/repopattern"
)

// RetentionRule is one retention policy as configured
// (lifecycle.retention): in repositories matching Repositories, a tag is
// kept when any clause keeps it, and deleted otherwise.
type RetentionRule struct {
	Repositories string
	// KeepLast keeps the KeepLast most recently pushed tags; 0: no count
	// clause.
	KeepLast int
	// KeepDays keeps tags pushed within the last KeepDays days; 0: no age
	// clause.
	KeepDays int
	// KeepPulledDays keeps tags whose manifest was pulled within the last
	// KeepPulledDays days (package pulls records pulls); 0: no pull
	// clause. It adds to keeplast or keepdays, which a rule still needs.
	KeepPulledDays int
	// KeepTags keeps tags matching any of these patterns (as
	// lifecycle.immutable's: globs or "semver"), whatever their age.
	KeepTags []string
	// DeleteUntagged deletes a manifest once retention removed the last
	// tag naming it; false (the default) keeps it for garbage collection.
	DeleteUntagged bool
}

// Bounds of a retention rule: a count or age larger than these is a typo.
const (
	maxKeepLast = 100000
	maxKeepDays = 36500
)

// Retention is the compiled set of retention rules; the first whose
// repository pattern matches a repository governs it. The nil *Retention
// deletes nothing. It is safe for concurrent use (read only).
type Retention struct {
	rules []retentionRule
}

type retentionRule struct {
	RetentionRule
	repos repopattern.Pattern
	keep  []TagPattern
}

// NewRetention compiles rules; an error names the rule and the key. A
// rule needs keeplast or keepdays: one keeping only pattern-matched tags
// would delete every other tag, which is never what a typo meant.
func NewRetention(rules []RetentionRule) (*Retention, error) {
	rt := &Retention{}
	for i, r := range rules {
		key := fmt.Sprintf("lifecycle.retention[%d]", i)
		repos, err := repopattern.Compile(r.Repositories)
		if err != nil {
			return nil, &KeyError{Key: key + ".repositories", Err: err}
		}
		switch {
		case r.KeepLast < 0 || r.KeepLast > maxKeepLast:
			return nil, &KeyError{Key: key + ".keeplast", Err: fmt.Errorf("must be between 0 and %d, got %d", maxKeepLast, r.KeepLast)}
		case r.KeepDays < 0 || r.KeepDays > maxKeepDays:
			return nil, &KeyError{Key: key + ".keepdays", Err: fmt.Errorf("must be between 0 and %d, got %d", maxKeepDays, r.KeepDays)}
		case r.KeepPulledDays < 0 || r.KeepPulledDays > maxKeepDays:
			return nil, &KeyError{Key: key + ".keeppulleddays", Err: fmt.Errorf("must be between 0 and %d, got %d", maxKeepDays, r.KeepPulledDays)}
		case r.KeepLast == 0 && r.KeepDays == 0:
			return nil, &KeyError{Key: key, Err: errors.New("needs keeplast or keepdays (a rule keeping only keeptags or pulled tags would delete every other tag, even one pushed a second ago)")}
		}
		c := retentionRule{RetentionRule: r, repos: repos}
		for j, t := range r.KeepTags {
			p, err := CompileTag(t)
			if err != nil {
				return nil, &KeyError{Key: fmt.Sprintf("%s.keeptags[%d]", key, j), Err: err}
			}
			c.keep = append(c.keep, p)
		}
		rt.rules = append(rt.rules, c)
	}
	return rt, nil
}

// Enabled reports whether any rule is configured.
func (rt *Retention) Enabled() bool { return rt != nil && len(rt.rules) > 0 }

// Governs returns the rule governing repo: the first whose repository
// pattern matches it.
func (rt *Retention) Governs(repo string) (RetentionRule, bool) {
	if r := rt.rule(repo); r != nil {
		return r.RetentionRule, true
	}
	return RetentionRule{}, false
}

func (rt *Retention) rule(repo string) *retentionRule {
	if rt == nil {
		return nil
	}
	for i := range rt.rules {
		if rt.rules[i].repos.Match(repo) {
			return &rt.rules[i]
		}
	}
	return nil
}

// String names a rule in a plan: `retention "team/**" (keeplast 10, keepdays 30, keeppulleddays 14)`.
func (r RetentionRule) String() string {
	s := fmt.Sprintf("retention %q (", r.Repositories)
	sep := ""
	if r.KeepLast > 0 {
		s += fmt.Sprintf("keeplast %d", r.KeepLast)
		sep = ", "
	}
	if r.KeepDays > 0 {
		s += fmt.Sprintf("%skeepdays %d", sep, r.KeepDays)
		sep = ", "
	}
	if r.KeepPulledDays > 0 {
		s += fmt.Sprintf("%skeeppulleddays %d", sep, r.KeepPulledDays)
	}
	return s + ")"
}

// KeyError is a configuration error at Key (lifecycle.retention[2].keepdays).
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }

func (e *KeyError) Unwrap() error { return e.Err }
