package config

import (
	"slices"
	"strings"
)

// LogFormats are the accepted values of log.format ("" means json).
var LogFormats = []string{"json", "ecs"}

// maxEMFDimensions is the most labels log.emf.dimensions may keep. The
// EMF specification allows 30 per dimension set; 9 keeps every metric
// within what CloudWatch alarms and older agents accept.
const maxEMFDimensions = 9

// checkLog reports the invalid values of log.format and log.emf to bad.
func (l Log) checkLog(bad func(key, format string, args ...any)) {
	if l.Format != "" && !slices.Contains(LogFormats, l.Format) {
		bad("log.format", "must be one of %s, got %q", strings.Join(LogFormats, ", "), l.Format)
	}
	if !l.EMF.Enabled {
		return
	}
	if l.EMF.Interval < 0 {
		bad("log.emf.interval", "must be a positive duration such as 60s")
	}
	if n := len(l.EMF.Namespace); n > 255 || (n > 0 && strings.TrimSpace(l.EMF.Namespace) == "") || strings.HasPrefix(l.EMF.Namespace, "AWS/") {
		bad("log.emf.namespace", "must be 1 to 255 characters, not blank and not starting with AWS/, got %q", l.EMF.Namespace)
	}
	if len(l.EMF.Dimensions) > maxEMFDimensions {
		bad("log.emf.dimensions", "at most %d labels, got %d", maxEMFDimensions, len(l.EMF.Dimensions))
	}
}
