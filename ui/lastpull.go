package ui

import (
	"strconv"
	"time"
)

// lastPull is what a page says of a manifest's last pull (the API's
// last_pulled_at, last_pulled_tag, pulls_tracked_since and
// pulls_recorded_since).
type lastPull struct {
	// Text is "last pulled 3 days ago by tag 1.0", "last pulled just now
	// by digest", "never pulled (tracked since …)", "not pulled in the
	// last 90 days"; "" when pulls are not tracked (the page shows
	// nothing, or a dash in a table).
	Text string
	// At is the pull's exact time for a title attribute; zero when none.
	At time.Time
}

// pullCoverage is what the API says a missing last pull means.
type pullCoverage struct {
	// TrackedSince is when tracking began; zero: not tracked (or not yet).
	TrackedSince time.Time `json:"pulls_tracked_since"`
	// RecordedSince: without a recorded pull, not pulled since then —
	// later than TrackedSince once records may have expired.
	RecordedSince time.Time `json:"pulls_recorded_since"`
}

// describePull words the last pull of a manifest at now: at is its time
// (zero: none recorded), tag what it went by ("" by digest), cov what a
// missing record means. "Never pulled" is said only while no record can
// have expired since tracking began; after that a missing record says
// "not pulled in the last …" (lifecycle.pulls.expiry): the manifest may
// have been pulled before.
func describePull(now, at time.Time, tag string, cov pullCoverage) lastPull {
	switch {
	case !at.IsZero():
		by := " by digest"
		if tag != "" {
			by = " by tag " + tag
		}
		return lastPull{Text: "last pulled " + ago(now, at) + by, At: at.UTC()}
	case cov.TrackedSince.IsZero():
		return lastPull{}
	case cov.RecordedSince.After(cov.TrackedSince):
		return lastPull{Text: "not pulled in the last " + span(now.Sub(cov.RecordedSince))}
	default:
		return lastPull{Text: "never pulled (tracked since " + cov.TrackedSince.UTC().Format("2006-01-02 15:04 UTC") + ")"}
	}
}

// span words a window of whole hours ("90 days", "36 hours"), rounded to
// the hour (the API read its clock a moment before the page).
func span(d time.Duration) string {
	h := int(d.Round(time.Hour) / time.Hour)
	switch {
	case h%24 == 0 && h > 24:
		return strconv.Itoa(h/24) + " days"
	case h == 24:
		return "24 hours"
	case h == 1:
		return "hour"
	default:
		return strconv.Itoa(h) + " hours"
	}
}
