package config

import "time"

// Security configures the detection of suspicious activity (package
// security, docs/security.md "Suspicious activity"): each detector raises
// one audit log line, one count of imagegate_security_detections_total and
// one security.* webhook event per incident. A threshold of 0 turns its
// detector off.
type Security struct {
	// Enabled turns every detector on or off.
	Enabled bool `yaml:"enabled"`
	// QueueSize bounds the events waiting for the detectors; past it new
	// events are dropped (counted), never waited for.
	QueueSize int `yaml:"queuesize"`
	// Workers is how many events are checked at once.
	Workers int `yaml:"workers"`
	// PasswordSpraying: one client address failing logins for Threshold
	// distinct usernames within Window.
	PasswordSpraying SecurityRule `yaml:"passwordspraying"`
	// BruteForce: Threshold failed logins for one username, from any
	// address, within Window.
	BruteForce SecurityRule `yaml:"bruteforce"`
	// TokenAddresses: one access token or refresh chain used from
	// Threshold distinct client addresses within Window.
	TokenAddresses SecurityRule `yaml:"tokenaddresses"`
	// RefusedPushes: Threshold pushes refused by the gate for one identity
	// within Window.
	RefusedPushes SecurityRule `yaml:"refusedpushes"`
	// RobotReads: a robot pulling a repository it never pulled before,
	// once its learning period is over.
	RobotReads SecurityRobotReads `yaml:"robotreads"`
	// VulnerableLayers: a push carrying a layer that a push elsewhere was
	// refused for (vulnerabilities at or above the policy's threshold).
	VulnerableLayers SecurityVulnerableLayers `yaml:"vulnerablelayers"`
}

// SecurityRule is a counting detector: it fires when Threshold events
// fall within a sliding Window, then stays silent for Cooldown on that key.
type SecurityRule struct {
	Threshold int           `yaml:"threshold"`
	Window    time.Duration `yaml:"window"`
	Cooldown  time.Duration `yaml:"cooldown"`
}

// SecurityRobotReads configures the robot-reads detector.
type SecurityRobotReads struct {
	Enabled bool `yaml:"enabled"`
	// Learning is how long after its first pull a robot's reads are only
	// learned, never reported.
	Learning time.Duration `yaml:"learning"`
	// MaxRepositories bounds the repositories remembered per robot (the
	// oldest are forgotten first).
	MaxRepositories int `yaml:"maxrepositories"`
	// Remember is how long a robot's set outlives its last update; a robot
	// that pulls nothing for that long starts learning again.
	Remember time.Duration `yaml:"remember"`
	// Cooldown silences the detector per robot after an alert.
	Cooldown time.Duration `yaml:"cooldown"`
}

// SecurityVulnerableLayers configures the refused-layer detector.
type SecurityVulnerableLayers struct {
	Enabled bool `yaml:"enabled"`
	// MaxLayers bounds the refused layer digests remembered (the oldest
	// are forgotten first).
	MaxLayers int `yaml:"maxlayers"`
	// Remember is how long a refused layer is remembered.
	Remember time.Duration `yaml:"remember"`
	// Cooldown silences the detector per target repository after an alert.
	Cooldown time.Duration `yaml:"cooldown"`
}

// Bounds of the security section: a rule's state is kept in one item of
// the shared store, so its threshold must stay small.
const (
	MaxSecurityThreshold       = 1000
	MaxSecurityRobotRepos      = 5000
	MinSecurityVulnerableLayer = 256
)

// defaultSecurity is Default's security section.
func defaultSecurity() Security {
	return Security{
		Enabled:          true,
		QueueSize:        4096,
		Workers:          2,
		PasswordSpraying: SecurityRule{Threshold: 10, Window: 10 * time.Minute, Cooldown: time.Hour},
		BruteForce:       SecurityRule{Threshold: 20, Window: 10 * time.Minute, Cooldown: time.Hour},
		TokenAddresses:   SecurityRule{Threshold: 3, Window: 15 * time.Minute, Cooldown: time.Hour},
		RefusedPushes:    SecurityRule{Threshold: 10, Window: 10 * time.Minute, Cooldown: time.Hour},
		RobotReads: SecurityRobotReads{Enabled: true, Learning: 7 * 24 * time.Hour, MaxRepositories: 1000,
			Remember: 90 * 24 * time.Hour, Cooldown: time.Hour},
		VulnerableLayers: SecurityVulnerableLayers{Enabled: true, MaxLayers: 65536, Remember: 30 * 24 * time.Hour,
			Cooldown: time.Hour},
	}
}

// validate reports the security section's invalid values through bad.
func (s Security) validate(bad func(key, format string, args ...any)) {
	if s.QueueSize < 1 {
		bad("security.queuesize", "must be positive, got %d", s.QueueSize)
	}
	if s.Workers < 1 || s.Workers > 64 {
		bad("security.workers", "must be between 1 and 64, got %d", s.Workers)
	}
	for key, r := range map[string]SecurityRule{
		"security.passwordspraying": s.PasswordSpraying,
		"security.bruteforce":       s.BruteForce,
		"security.tokenaddresses":   s.TokenAddresses,
		"security.refusedpushes":    s.RefusedPushes,
	} {
		r.validate(key, bad)
	}
	rr := s.RobotReads
	if rr.Learning < 0 {
		bad("security.robotreads.learning", "must not be negative")
	}
	if rr.MaxRepositories < 1 || rr.MaxRepositories > MaxSecurityRobotRepos {
		bad("security.robotreads.maxrepositories", "must be between 1 and %d, got %d", MaxSecurityRobotRepos, rr.MaxRepositories)
	}
	if rr.Remember <= rr.Learning {
		bad("security.robotreads.remember", "must be longer than security.robotreads.learning (%s), got %s", rr.Learning, rr.Remember)
	}
	if rr.Cooldown < 0 {
		bad("security.robotreads.cooldown", "must not be negative")
	}
	vl := s.VulnerableLayers
	if vl.MaxLayers < MinSecurityVulnerableLayer {
		bad("security.vulnerablelayers.maxlayers", "must be at least %d, got %d", MinSecurityVulnerableLayer, vl.MaxLayers)
	}
	if vl.Remember <= 0 {
		bad("security.vulnerablelayers.remember", "must be a positive duration such as 720h")
	}
	if vl.Cooldown < 0 {
		bad("security.vulnerablelayers.cooldown", "must not be negative")
	}
}

// validate reports r's invalid values under key through bad.
func (r SecurityRule) validate(key string, bad func(key, format string, args ...any)) {
	if r.Threshold != 0 && (r.Threshold < 2 || r.Threshold > MaxSecurityThreshold) {
		bad(key+".threshold", "must be 0 (off) or between 2 and %d, got %d", MaxSecurityThreshold, r.Threshold)
	}
	if r.Threshold > 0 && r.Window <= 0 {
		bad(key+".window", "must be a positive duration such as 10m")
	}
	if r.Cooldown < 0 {
		bad(key+".cooldown", "must not be negative")
	}
}
