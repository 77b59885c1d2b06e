package lifecycle

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// TagState is a tag as retention sees it: what it names and when it was
// last pushed (written).
type TagState struct {
	Tag      string        `json:"tag"`
	Digest   digest.Digest `json:"digest"`
	PushedAt time.Time     `json:"pushed_at"`
	// PulledAt is when the manifest the tag names was last pulled (by
	// any reference), as far as pull tracking knows; zero: no pull
	// recorded, or not read (the rule has no keeppulleddays).
	PulledAt time.Time `json:"pulled_at,omitzero"`
}

// Verdict is retention's decision on one tag and why: the clause that
// keeps it, or the figures that let it go.
type Verdict struct {
	TagState
	// Rank is the tag's place among its repository's tags, newest push
	// first (1 is the newest).
	Rank int `json:"rank"`
	// Clause is what decided: immutable, keeptags, keeplast, keepdays,
	// keeppulleddays (kept) or expired (deleted).
	Clause string `json:"clause"`
	Why    string `json:"why"`
}

// Clauses of a Verdict.
const (
	ClauseImmutable  = "immutable"
	ClauseKeepTags   = "keeptags"
	ClauseKeepLast   = "keeplast"
	ClauseKeepDays   = "keepdays"
	ClauseKeepPulled = "keeppulleddays"
	ClauseExpired    = "expired"
)

// RepositoryPlan is what retention would do to one repository.
type RepositoryPlan struct {
	Repository string `json:"repository"`
	// Rule names the governing rule (RetentionRule.String).
	Rule string `json:"rule"`
	// DeleteUntagged: a manifest left without tags is deleted too.
	DeleteUntagged bool      `json:"delete_untagged"`
	Delete         []Verdict `json:"delete"`
	Keep           []Verdict `json:"keep"`
}

// Plan decides every tag of repo at now, under the governing rule; false
// when no rule governs repo (nothing is deleted). Tags are ranked by push
// time, newest first, ties by name. A tag is kept, by the first clause
// that holds: it is immutable (im: always kept, whatever the rule says),
// it matches keeptags, its rank is within keeplast, it was pushed within
// keepdays; otherwise it is deleted. Keep and Delete are in rank order.
func (rt *Retention) Plan(repo string, tags []TagState, im *Immutability, now time.Time) (RepositoryPlan, bool) {
	return rt.PlanWithPulls(repo, tags, im, now, time.Time{})
}

// PlanWithPulls is Plan with the pull clause: under a rule with
// keeppulleddays, a tag whose manifest was pulled (TagState.PulledAt)
// within that many days is kept, after the other clauses. pullsSince is
// when pull tracking began (zero: not yet): a pull before it is unknown,
// so while tracking has run less than keeppulleddays a tag without a
// recent pull is kept too — never deleted as unpulled on missing
// knowledge.
func (rt *Retention) PlanWithPulls(repo string, tags []TagState, im *Immutability, now, pullsSince time.Time) (RepositoryPlan, bool) {
	r := rt.rule(repo)
	if r == nil {
		return RepositoryPlan{}, false
	}
	p := RepositoryPlan{Repository: repo, Rule: r.String(), DeleteUntagged: r.DeleteUntagged,
		Delete: []Verdict{}, Keep: []Verdict{}}
	ranked := slices.Clone(tags)
	slices.SortFunc(ranked, func(a, b TagState) int {
		if c := b.PushedAt.Compare(a.PushedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.Tag, b.Tag)
	})
	for i, t := range ranked {
		v := r.decide(repo, t, i+1, len(ranked), im, now, pullsSince)
		if v.Clause == ClauseExpired {
			p.Delete = append(p.Delete, v)
		} else {
			p.Keep = append(p.Keep, v)
		}
	}
	return p, true
}

// decide is one tag's verdict (see Plan).
func (r *retentionRule) decide(repo string, t TagState, rank, of int, im *Immutability, now, pullsSince time.Time) Verdict {
	v := Verdict{TagState: t, Rank: rank}
	age := now.Sub(t.PushedAt)
	days := age.Hours() / 24
	if prot, ok := im.Protects(repo, t.Tag); ok {
		v.Clause, v.Why = ClauseImmutable, "immutable ("+prot.String()+"): always kept"
		return v
	}
	for _, k := range r.keep {
		if k.Match(t.Tag) {
			v.Clause, v.Why = ClauseKeepTags, fmt.Sprintf("matches keeptags %q", k.String())
			return v
		}
	}
	if r.KeepLast > 0 && rank <= r.KeepLast {
		v.Clause, v.Why = ClauseKeepLast, fmt.Sprintf("newest %d of %d, within keeplast %d", rank, of, r.KeepLast)
		return v
	}
	if r.KeepDays > 0 && age < time.Duration(r.KeepDays)*24*time.Hour {
		v.Clause, v.Why = ClauseKeepDays, fmt.Sprintf("pushed %.1f days ago, within keepdays %d", days, r.KeepDays)
		return v
	}
	pulled, pulledWhy := r.pulled(t, now, pullsSince)
	if pulled {
		v.Clause, v.Why = ClauseKeepPulled, pulledWhy
		return v
	}
	v.Clause = ClauseExpired
	var why []string
	if r.KeepLast > 0 {
		why = append(why, fmt.Sprintf("newest %d of %d, past keeplast %d", rank, of, r.KeepLast))
	}
	if r.KeepDays > 0 {
		why = append(why, fmt.Sprintf("pushed %.1f days ago, past keepdays %d", days, r.KeepDays))
	}
	if pulledWhy != "" {
		why = append(why, pulledWhy)
	}
	v.Why = strings.Join(why, "; ")
	return v
}

// pulled is the pull clause of r for t: whether it keeps t, and why (or
// why not; "" when r has no keeppulleddays).
func (r *retentionRule) pulled(t TagState, now, since time.Time) (bool, string) {
	if r.KeepPulledDays <= 0 {
		return false, ""
	}
	window := time.Duration(r.KeepPulledDays) * 24 * time.Hour
	days := func(d time.Duration) float64 { return d.Hours() / 24 }
	switch {
	case !t.PulledAt.IsZero() && now.Sub(t.PulledAt) < window:
		return true, fmt.Sprintf("pulled %.1f days ago, within keeppulleddays %d", days(now.Sub(t.PulledAt)), r.KeepPulledDays)
	case since.IsZero():
		return true, fmt.Sprintf("pulls are not tracked yet: not known to be unpulled for keeppulleddays %d", r.KeepPulledDays)
	case now.Sub(since) < window:
		return true, fmt.Sprintf("pulls tracked for %.1f days only, less than keeppulleddays %d: not known to be unpulled", days(now.Sub(since)), r.KeepPulledDays)
	case !t.PulledAt.IsZero():
		return false, fmt.Sprintf("pulled %.1f days ago, past keeppulleddays %d", days(now.Sub(t.PulledAt)), r.KeepPulledDays)
	}
	return false, fmt.Sprintf("not pulled in the %.1f days pulls were tracked, past keeppulleddays %d", days(now.Sub(since)), r.KeepPulledDays)
}
