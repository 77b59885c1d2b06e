package lifecycle

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
)

// TagState is a tag as retention sees it: what it names and when it was
// last pushed (written).
type TagState struct {
	Tag      string        `json:"tag"`
	Digest   digest.Digest `json:"digest"`
	PushedAt time.Time     `json:"pushed_at"`
}

// Verdict is retention's decision on one tag and why: the clause that
// keeps it, or the figures that let it go.
type Verdict struct {
	TagState
	// Rank is the tag's place among its repository's tags, newest push
	// first (1 is the newest).
	Rank int `json:"rank"`
	// Clause is what decided: immutable, keeptags, keeplast, keepdays
	// (kept) or expired (deleted).
	Clause string `json:"clause"`
	Why    string `json:"why"`
}

// Clauses of a Verdict.
const (
	ClauseImmutable = "immutable"
	ClauseKeepTags  = "keeptags"
	ClauseKeepLast  = "keeplast"
	ClauseKeepDays  = "keepdays"
	ClauseExpired   = "expired"
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
		v := r.decide(repo, t, i+1, len(ranked), im, now)
		if v.Clause == ClauseExpired {
			p.Delete = append(p.Delete, v)
		} else {
			p.Keep = append(p.Keep, v)
		}
	}
	return p, true
}

// decide is one tag's verdict (see Plan).
func (r *retentionRule) decide(repo string, t TagState, rank, of int, im *Immutability, now time.Time) Verdict {
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
	v.Clause = ClauseExpired
	switch {
	case r.KeepLast > 0 && r.KeepDays > 0:
		v.Why = fmt.Sprintf("newest %d of %d, past keeplast %d; pushed %.1f days ago, past keepdays %d", rank, of, r.KeepLast, days, r.KeepDays)
	case r.KeepLast > 0:
		v.Why = fmt.Sprintf("newest %d of %d, past keeplast %d", rank, of, r.KeepLast)
	default:
		v.Why = fmt.Sprintf("pushed %.1f days ago, past keepdays %d", days, r.KeepDays)
	}
	return v
}
