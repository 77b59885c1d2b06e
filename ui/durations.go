package ui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Durations and ages as the pages show them. Every duration a page
// prints goes through millis (the API gives them in milliseconds with
// microsecond precision), every "how long ago" through ago.

// millis is a duration of ms milliseconds for people: a fraction of a
// millisecond keeps two significant decimals ("0.4 ms", "0.05 ms") down
// to "<0.01 ms", so a fast answer never reads "0 ms" as if nothing was
// measured; "1.5 ms" below 10 ms, whole milliseconds below 10 s, then
// seconds ("12.3 s"). Zero is "0 ms"; a negative or non-finite value
// (a clock step) is "—".
func millis(ms float64) string {
	switch {
	case math.IsNaN(ms) || math.IsInf(ms, 0) || ms < 0:
		return "—"
	case ms == 0:
		return "0 ms"
	case ms < 0.01:
		return "<0.01 ms"
	case ms < 0.995: // %.2f rounds from 0.995 on to "1.00"
		return trimZeros(strconv.FormatFloat(ms, 'f', 2, 64)) + " ms"
	case ms < 9.95:
		return trimZeros(strconv.FormatFloat(ms, 'f', 1, 64)) + " ms"
	case ms < 9999.5:
		return strconv.FormatFloat(math.Round(ms), 'f', 0, 64) + " ms"
	default:
		return trimZeros(strconv.FormatFloat(ms/1000, 'f', 1, 64)) + " s"
	}
}

// trimZeros drops a decimal fraction's trailing zeros ("0.40" → "0.4",
// "2.0" → "2").
func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// ago is how long before now t was, in the largest whole unit: "just
// now" under a minute (and for a t after now: clocks of replicas
// differ), then minutes, hours, days ("3 days ago"), months of 30 days
// from 60 days on, years of 365 days from 2 years on.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	unit := func(n int64, one string) string {
		if n == 1 {
			return "1 " + one + " ago"
		}
		return fmt.Sprintf("%d %ss ago", n, one)
	}
	const day = 24 * time.Hour
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return unit(int64(d/time.Minute), "minute")
	case d < day:
		return unit(int64(d/time.Hour), "hour")
	case d < 60*day:
		return unit(int64(d/day), "day")
	case d < 2*365*day:
		return unit(int64(d/(30*day)), "month")
	default:
		return unit(int64(d/(365*day)), "year")
	}
}
