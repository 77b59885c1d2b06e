package config

import (
	"strings"
	"testing"
	"time"
)

// TestGCValidation: lifecycle.gc's defaults pass; each bad value is
// refused with a message naming its key.
func TestGCValidation(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		key    string
		mutate func(*GC)
	}{
		{"lifecycle.gc.grace", func(g *GC) { g.Grace = time.Minute }},
		{"lifecycle.gc.untagged", func(g *GC) { g.Untagged = "sometimes" }},
		{"lifecycle.gc.untaggedage", func(g *GC) { g.UntaggedAge = -time.Hour }},
		{"lifecycle.gc.interval", func(g *GC) { g.Interval = -time.Hour }},
		{"lifecycle.gc.maxdeletions", func(g *GC) { g.MaxDeletions = 0 }},
	} {
		c := Default()
		tc.mutate(&c.Lifecycle.GC)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: %v", tc.key, err)
		}
	}
}
