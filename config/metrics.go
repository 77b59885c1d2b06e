package config

import (
	"fmt"
	"time"

	"github.com/imagegate/imagegate/internal/repopattern"
)

// DefaultMaxDBAge is scan.maxdbage's default. Trivy's DB is rebuilt every
// 6 hours and the server looks for a newer one every scan.updateinterval
// (12 h), so a connected server's DB is rarely older than a day and a half.
// A week leaves room for an air-gapped site that brings the DB in weekly,
// and still catches an update path broken for days; the shipped alerts
// warn at half of it (docs/monitoring.md).
const DefaultMaxDBAge = 7 * 24 * time.Hour

// Metrics configures the gate's Prometheus metrics (served on debug.addr
// when debug.metrics is set).
type Metrics struct {
	// Repositories are patterns (as in scan.policies) whose pushes are
	// counted under a repository label of their own — the pattern's text,
	// the first that matches; pushes to any other repository count as
	// "other". Empty keeps repository names out of the metrics. Each
	// pattern multiplies the push series: name teams or tiers, not images.
	Repositories []string `yaml:"repositories"`
}

// validate reports bad settings of m and of the scanner's DB age limit.
func (m Metrics) validate(maxDBAge time.Duration, bad func(key, format string, args ...any)) {
	for i, p := range m.Repositories {
		if _, err := repopattern.Compile(p); err != nil {
			bad(fmt.Sprintf("metrics.repositories[%d]", i), "%v", err)
		}
	}
	if maxDBAge < 0 {
		bad("scan.maxdbage", "must not be negative (0 turns the limit off), got %s", maxDBAge)
	}
}
