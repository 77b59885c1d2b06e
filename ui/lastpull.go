package ui

import "time"

// lastPull is what a page says of a manifest's last pull (the API's
// last_pulled_at, last_pulled_tag and pulls_tracked_since).
type lastPull struct {
	// Text is "last pulled 3 days ago by tag 1.0", "last pulled just now
	// by digest", "never pulled (tracked since …)"; "" when pulls are not
	// tracked (the page shows nothing, or a dash in a table).
	Text string
	// At is the pull's exact time for a title attribute; zero when none.
	At time.Time
}

// describePull words the last pull of a manifest at now: at is its time
// (zero: none recorded), tag what it went by ("" by digest), since when
// tracking began (zero: not tracked, or not yet).
func describePull(now, at time.Time, tag string, since time.Time) lastPull {
	switch {
	case !at.IsZero():
		by := " by digest"
		if tag != "" {
			by = " by tag " + tag
		}
		return lastPull{Text: "last pulled " + ago(now, at) + by, At: at.UTC()}
	case !since.IsZero():
		return lastPull{Text: "never pulled (tracked since " + since.UTC().Format("2006-01-02 15:04 UTC") + ")"}
	default:
		return lastPull{}
	}
}
