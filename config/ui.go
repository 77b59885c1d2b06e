package config

import "time"

// UI configures the web UI under /ui/ (docs/ui.md).
type UI struct {
	// Enabled serves the UI; off, /ui/ answers 404 like any unknown path.
	Enabled bool `yaml:"enabled"`
	// SessionTTL is how long a sign-in lasts (the session cookie and its
	// record in the fleet store); then the person signs in again.
	SessionTTL time.Duration `yaml:"sessionttl"`
}

// Bounds of ui.sessionttl.
const (
	minSessionTTL = time.Minute
	maxSessionTTL = 7 * 24 * time.Hour
)

// defaultUI serves the UI with 12-hour sessions.
func defaultUI() UI { return UI{Enabled: true, SessionTTL: 12 * time.Hour} }

func (u UI) validate(bad func(key, format string, args ...any)) {
	if u.SessionTTL < minSessionTTL || u.SessionTTL > maxSessionTTL {
		bad("ui.sessionttl", "must be between %s and %s, got %s", minSessionTTL, maxSessionTTL, u.SessionTTL)
	}
}
