package ui

import (
	"testing"
	"time"
)

// ageWords reads as days from two days on, as hours and minutes below.
func TestAgeWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                          "0 h 0 min",
		90 * time.Minute:           "1 h 30 min",
		47*time.Hour + time.Minute: "47 h 1 min",
		7 * 24 * time.Hour:         "7 days 0 h",
		520*24*time.Hour + 10*time.Hour + 47*time.Minute: "520 days 10 h",
	} {
		if got := ageWords(d); got != want {
			t.Errorf("ageWords(%s) = %q, want %q", d, got, want)
		}
	}
}
