package lifecycle

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func daysAgo(d float64) time.Time { return now.Add(-time.Duration(d * 24 * float64(time.Hour))) }

func tagAt(tag string, d float64) TagState {
	return TagState{Tag: tag, Digest: digest.FromString(tag), PushedAt: daysAgo(d)}
}

func TestRetentionPlanSaysWhy(t *testing.T) {
	rt, err := NewRetention([]RetentionRule{
		{Repositories: "team/**", KeepLast: 2, KeepDays: 10, KeepTags: []string{"release-*"}},
		{Repositories: "**", KeepDays: 30},
	})
	if err != nil {
		t.Fatal(err)
	}
	im, err := NewImmutability([]ImmutableRule{{Repositories: "team/**", Tags: []string{Semver}}})
	if err != nil {
		t.Fatal(err)
	}
	tags := []TagState{
		tagAt("old-b", 40), tagAt("new", 1), tagAt("v1.0.0", 90), tagAt("release-1", 200),
		tagAt("recent", 5), tagAt("old-a", 40), tagAt("mid", 3),
	}
	p, ok := rt.Plan("team/app", tags, im, now)
	if !ok {
		t.Fatal("team/app has no plan")
	}
	got := func(vs []Verdict) string {
		var b strings.Builder
		for _, v := range vs {
			fmt.Fprintf(&b, "%s|%d|%s|%s\n", v.Tag, v.Rank, v.Clause, v.Why)
		}
		return b.String()
	}
	wantKeep := `new|1|keeplast|newest 1 of 7, within keeplast 2
mid|2|keeplast|newest 2 of 7, within keeplast 2
recent|3|keepdays|pushed 5.0 days ago, within keepdays 10
v1.0.0|6|immutable|immutable (rule "team/**" tags "semver"): always kept
release-1|7|keeptags|matches keeptags "release-*"
`
	wantDelete := `old-a|4|expired|newest 4 of 7, past keeplast 2; pushed 40.0 days ago, past keepdays 10
old-b|5|expired|newest 5 of 7, past keeplast 2; pushed 40.0 days ago, past keepdays 10
`
	if got(p.Keep) != wantKeep || got(p.Delete) != wantDelete {
		t.Fatalf("keep:\n%s\ndelete:\n%s", got(p.Keep), got(p.Delete))
	}
	if p.Rule != `retention "team/**" (keeplast 2, keepdays 10)` {
		t.Fatalf("rule %q", p.Rule)
	}
	other, ok := rt.Plan("dev/x", []TagState{tagAt("a", 31), tagAt("b", 29)}, im, now)
	if !ok || len(other.Delete) != 1 || other.Delete[0].Tag != "a" ||
		other.Delete[0].Why != "pushed 31.0 days ago, past keepdays 30" {
		t.Fatalf("second rule (first match wins): %+v", other)
	}
	var none *Retention
	if _, ok := none.Plan("team/app", tags, im, now); ok || none.Enabled() {
		t.Fatal("the nil Retention plans something")
	}
}

// TestRetentionPlanInvariants checks generated histories against what
// every clause promises, independently of how Plan orders its work.
func TestRetentionPlanInvariants(t *testing.T) {
	im, err := NewImmutability([]ImmutableRule{{Repositories: "**", Tags: []string{"v*.*.*"}}})
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 18))
	for round := range 200 {
		rule := RetentionRule{Repositories: "**", KeepLast: rnd.IntN(6), KeepDays: rnd.IntN(40), KeepTags: []string{"keep-*"}}
		if rule.KeepLast == 0 && rule.KeepDays == 0 {
			rule.KeepLast = 1
		}
		rt, err := NewRetention([]RetentionRule{rule})
		if err != nil {
			t.Fatal(err)
		}
		var tags []TagState
		for i := range rnd.IntN(30) {
			name := []string{"t", "keep-", "v1.2."}[rnd.IntN(3)] + fmt.Sprint(i)
			tags = append(tags, tagAt(name, float64(rnd.IntN(100*24))/24))
		}
		p, _ := rt.Plan("r", tags, im, now)
		if len(p.Keep)+len(p.Delete) != len(tags) {
			t.Fatalf("round %d: %d decided of %d", round, len(p.Keep)+len(p.Delete), len(tags))
		}
		if len(p.Keep) < min(rule.KeepLast, len(tags)) {
			t.Fatalf("round %d: %d kept, keeplast %d", round, len(p.Keep), rule.KeepLast)
		}
		for _, d := range p.Delete {
			newer := 0
			for _, o := range tags {
				if o.Tag != d.Tag && !o.PushedAt.Before(d.PushedAt) {
					newer++ // pushed no earlier: ranked before d, or tied
				}
			}
			switch {
			case strings.HasPrefix(d.Tag, "keep-"), strings.HasPrefix(d.Tag, "v1.2."):
				t.Fatalf("round %d: protected %s deleted", round, d.Tag)
			case rule.KeepDays > 0 && now.Sub(d.PushedAt) < time.Duration(rule.KeepDays)*24*time.Hour:
				t.Fatalf("round %d: %s deleted within keepdays %d", round, d.Tag, rule.KeepDays)
			case newer < rule.KeepLast:
				t.Fatalf("round %d: %s deleted with %d newer, keeplast %d", round, d.Tag, newer, rule.KeepLast)
			}
		}
	}
}

func TestNewRetentionRefuses(t *testing.T) {
	for _, c := range []struct {
		rule RetentionRule
		want string
	}{
		{RetentionRule{Repositories: "a/**"}, "lifecycle.retention[0]: needs keeplast or keepdays"},
		{RetentionRule{Repositories: "a/**", KeepLast: -1}, "lifecycle.retention[0].keeplast"},
		{RetentionRule{Repositories: "a/**", KeepDays: 40000}, "lifecycle.retention[0].keepdays"},
		{RetentionRule{Repositories: "a/**", KeepDays: 1, KeepTags: []string{"["}}, "lifecycle.retention[0].keeptags[0]"},
		{RetentionRule{Repositories: "", KeepDays: 1}, "lifecycle.retention[0].repositories"},
	} {
		_, err := NewRetention([]RetentionRule{c.rule})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.rule, err, c.want)
		}
	}
}
