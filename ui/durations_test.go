package ui

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/metadata"
)

// TestMillis: a fraction of a millisecond is shown as one ("0.4 ms"),
// never as "0 ms"; larger durations keep a sensible precision.
func TestMillis(t *testing.T) {
	for _, c := range []struct {
		ms   float64
		want string
	}{
		{0, "0 ms"},
		{0.001, "<0.01 ms"},
		{0.009, "<0.01 ms"},
		{0.01, "0.01 ms"},
		{0.05, "0.05 ms"},
		{0.4, "0.4 ms"},
		{0.412, "0.41 ms"},
		{0.994, "0.99 ms"},
		{0.996, "1 ms"},
		{1, "1 ms"},
		{1.5, "1.5 ms"},
		{9.94, "9.9 ms"},
		{9.96, "10 ms"},
		{12.4, "12 ms"},
		{41, "41 ms"},
		{9999.4, "9999 ms"},
		{9999.6, "10 s"},
		{12345, "12.3 s"},
		{-1, "—"},
		{math.NaN(), "—"},
		{math.Inf(1), "—"},
	} {
		if got := millis(c.ms); got != c.want {
			t.Errorf("millis(%v) = %q, want %q", c.ms, got, c.want)
		}
	}
}

// TestAgo words the time since a moment in its largest whole unit.
func TestAgo(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		-time.Hour:                 "just now", // a replica's clock ahead
		0:                          "just now",
		59 * time.Second:           "just now",
		time.Minute:                "1 minute ago",
		59 * time.Minute:           "59 minutes ago",
		2 * time.Hour:              "2 hours ago",
		24 * time.Hour:             "1 day ago",
		3*24*time.Hour + time.Hour: "3 days ago",
		59 * 24 * time.Hour:        "59 days ago",
		90 * 24 * time.Hour:        "3 months ago",
		800 * 24 * time.Hour:       "2 years ago",
	} {
		if got := ago(now, now.Add(-d)); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestDescribePull: a recorded pull says when and by what; none while
// pulls are tracked says since when they are — "never pulled" only while
// no record can have expired since tracking began, "not pulled in the
// last …" once one may have (lifecycle.pulls.expiry); none untracked
// says nothing.
func TestDescribePull(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	since := time.Date(2026, 11, 1, 8, 30, 0, 0, time.UTC)
	young := pullCoverage{TrackedSince: since, RecordedSince: since}
	longAgo := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	expired := pullCoverage{TrackedSince: longAgo, RecordedSince: now.Add(-90*24*time.Hour + 40*time.Millisecond)} // the API's clock, a moment earlier
	for _, c := range []struct {
		at       time.Time
		tag      string
		cov      pullCoverage
		want     string
		wantTime bool
	}{
		{now.Add(-3 * 24 * time.Hour), "1.0", young, "last pulled 3 days ago by tag 1.0", true},
		{now.Add(-time.Second), "", young, "last pulled just now by digest", true},
		{now.Add(-80 * 24 * time.Hour), "1.0", expired, "last pulled 2 months ago by tag 1.0", true},
		{time.Time{}, "", young, "never pulled (tracked since 2026-11-01 08:30 UTC)", false},
		{time.Time{}, "", pullCoverage{TrackedSince: since}, "never pulled (tracked since 2026-11-01 08:30 UTC)", false}, // an API without pulls_recorded_since
		{time.Time{}, "", expired, "not pulled in the last 90 days", false},
		{time.Time{}, "", pullCoverage{TrackedSince: longAgo, RecordedSince: now.Add(-36 * time.Hour)}, "not pulled in the last 36 hours", false},
		{time.Time{}, "", pullCoverage{}, "", false},
	} {
		got := describePull(now, c.at, c.tag, c.cov)
		if got.Text != c.want || got.At.IsZero() == c.wantTime {
			t.Errorf("describePull(%v, %q, %+v) = %+v, want %q", c.at, c.tag, c.cov, got, c.want)
		}
	}
}

// TestLastPullTemplates: the repository page's tag list has a "Last
// pulled" column only while pulls are tracked, and the image page a
// "Last pulled" fact, with the exact time in a <time> element.
func TestLastPullTemplates(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	pulled := now.Add(-3 * 24 * time.Hour)
	since := now.Add(-30 * 24 * time.Hour)
	render := func(page string, data any) string {
		t.Helper()
		var buf strings.Builder
		if err := pages[page].Execute(&buf, frame{Title: "t", Data: data}); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	tags := []tagRef{
		{Name: "1.0", Digest: "sha256:aaaa", Pull: describePull(now, pulled, "1.0", pullCoverage{TrackedSince: since, RecordedSince: since})},
		{Name: "old", Digest: "sha256:bbbb", Pull: describePull(now, time.Time{}, "", pullCoverage{TrackedSince: since, RecordedSince: since})},
		{Name: "older", Digest: "sha256:cccc", Pull: describePull(now, time.Time{}, "", pullCoverage{TrackedSince: since.Add(-200 * 24 * time.Hour), RecordedSince: now.Add(-90 * 24 * time.Hour)})},
	}
	page := render("repository", repositoryView{Name: "team/app", Tags: tags, PullsTracked: true})
	for _, want := range []string{`<th scope="col">Last pulled</th>`,
		`<time datetime="2026-11-30T12:00:00Z" title="2026-11-30 12:00:00 UTC">last pulled 3 days ago by tag 1.0</time>`,
		"never pulled (tracked since 2026-11-03 12:00 UTC)", "not pulled in the last 90 days"} {
		if !strings.Contains(page, want) {
			t.Errorf("the repository page lacks %q", want)
		}
	}
	if strings.Contains(page, "tags-cut") {
		t.Error("the repository page says its tags are cut when the API answered them all")
	}
	cut := render("repository", repositoryView{Name: "team/app", Tags: tags, NextTag: "older"})
	if !strings.Contains(cut, "The first 3 tags by name are shown") || !strings.Contains(cut, "/api/v1/repositories/team/app/tags?last=older") {
		t.Error("the repository page does not say that the API has more tags, nor where they begin")
	}
	untracked := []tagRef{{Name: "1.0", Digest: "sha256:aaaa"}}
	if page := render("repository", repositoryView{Name: "team/app", Tags: untracked}); strings.Contains(page, "Last pulled") {
		t.Error("the repository page has a Last pulled column while pulls are not tracked")
	}
	img := imageView{Name: "team/app", Digest: "sha256:aaaa", Latest: &metadata.Record{Digest: "sha256:aaaa"},
		LastPull: describePull(now, pulled, "", pullCoverage{TrackedSince: since, RecordedSince: since})}
	if page := render("image", img); !strings.Contains(page, `<dt>Last pulled</dt><dd id="last-pull"><time datetime="2026-11-30T12:00:00Z"`) ||
		!strings.Contains(page, "last pulled 3 days ago by digest") {
		t.Error("the image page does not say when the image was last pulled")
	}
	img.LastPull = lastPull{}
	if page := render("image", img); strings.Contains(page, "Last pulled") {
		t.Error("the image page speaks of pulls that are not tracked")
	}
}
