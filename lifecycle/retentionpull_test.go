package lifecycle

import (
	"strings"
	"testing"
	"time"
)

// TestRetentionKeepPulledDays: a tag whose manifest was pulled within
// keeppulleddays is kept, saying when; one pulled earlier, or never
// while pulls were tracked long enough, is deleted saying so; while
// tracking has run less than keeppulleddays (or not at all), nothing is
// deleted as unpulled.
func TestRetentionKeepPulledDays(t *testing.T) {
	rt, err := NewRetention([]RetentionRule{{Repositories: "**", KeepLast: 1, KeepPulledDays: 14}})
	if err != nil {
		t.Fatal(err)
	}
	pulled := func(ts TagState, d float64) TagState { ts.PulledAt = daysAgo(d); return ts }
	tags := []TagState{
		tagAt("newest", 1),
		pulled(tagAt("pulled-recently", 50), 3),
		pulled(tagAt("pulled-long-ago", 50), 20),
		tagAt("never-pulled", 50),
	}
	verdicts := func(since time.Time) map[string]Verdict {
		p, ok := rt.PlanWithPulls("team/app", tags, nil, now, since)
		if !ok {
			t.Fatal("no plan")
		}
		out := map[string]Verdict{}
		for _, v := range append(p.Keep, p.Delete...) {
			out[v.Tag] = v
		}
		return out
	}
	v := verdicts(daysAgo(30))
	for tag, want := range map[string]string{
		"newest":          "keeplast|newest 1 of 4, within keeplast 1",
		"pulled-recently": "keeppulleddays|pulled 3.0 days ago, within keeppulleddays 14",
		"pulled-long-ago": "expired|newest 3 of 4, past keeplast 1; pulled 20.0 days ago, past keeppulleddays 14",
		"never-pulled":    "expired|newest 2 of 4, past keeplast 1; not pulled in the 30.0 days pulls were tracked, past keeppulleddays 14",
	} {
		if got := v[tag].Clause + "|" + v[tag].Why; got != want {
			t.Errorf("%s: %q, want %q", tag, got, want)
		}
	}
	for _, since := range []time.Time{daysAgo(5), {}} {
		for tag, v := range verdicts(since) {
			if v.Clause == ClauseExpired {
				t.Errorf("tracking since %v: %s deleted (%s) without knowing it was unpulled", since, tag, v.Why)
			}
		}
	}
	if w := verdicts(daysAgo(5))["never-pulled"].Why; !strings.Contains(w, "pulls tracked for 5.0 days only") {
		t.Errorf("why: %q", w)
	}
	if _, err := NewRetention([]RetentionRule{{Repositories: "**", KeepPulledDays: 14}}); err == nil {
		t.Error("a rule with only keeppulleddays was accepted: it would delete a tag pushed a second ago")
	}
	if p, _ := rt.PlanWithPulls("x", nil, nil, now, time.Time{}); p.Rule != `retention "**" (keeplast 1, keeppulleddays 14)` {
		t.Errorf("rule %q", p.Rule)
	}
}
