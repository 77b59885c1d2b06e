package config

import (
	"strings"
	"testing"
)

// TestLogChecks: log.format and log.emf values are checked, each error
// naming its key.
func TestLogChecks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(*Config)
		wantKey string // "" means valid
	}{
		{"ecs", func(c *Config) { c.Log.Format = "ecs" }, ""},
		{"unknown format", func(c *Config) { c.Log.Format = "logfmt" }, "log.format"},
		{"emf on", func(c *Config) { c.Log.EMF.Enabled = true }, ""},
		{"emf AWS namespace", func(c *Config) { c.Log.EMF.Enabled, c.Log.EMF.Namespace = true, "AWS/EC2" }, "log.emf.namespace"},
		{"emf blank namespace", func(c *Config) { c.Log.EMF.Enabled, c.Log.EMF.Namespace = true, "  " }, "log.emf.namespace"},
		{"emf negative interval", func(c *Config) { c.Log.EMF.Enabled, c.Log.EMF.Interval = true, -1 }, "log.emf.interval"},
		{"emf ten dimensions", func(c *Config) {
			c.Log.EMF.Enabled, c.Log.EMF.Dimensions = true, strings.Split("a b c d e f g h i j", " ")
		}, "log.emf.dimensions"},
	} {
		c := Default()
		tc.mutate(c)
		err := c.Validate()
		switch {
		case tc.wantKey == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantKey != "" && (err == nil || !strings.Contains(err.Error(), tc.wantKey+":")):
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.wantKey)
		}
	}
}
