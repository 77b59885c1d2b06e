package registry

import (
	"testing"

	"github.com/imagegate/imagegate/config"
)

// TestOffPolicyNeedsNoSeverity: every scan policy config.Validate accepts
// compiles — `imagegate config check` passed a mode-off rule without a
// severity that serve then refused ("unknown severity \"\"").
func TestOffPolicyNeedsNoSeverity(t *testing.T) {
	c := config.Default()
	c.Scan.Policies = []config.ScanPolicy{{Repositories: "legacy/**", Mode: "off", OnError: "accept"}}
	if err := c.Validate(); err != nil {
		t.Fatalf("config.Validate refused the rule: %v", err)
	}
	if _, err := newPolicies(c.Scan); err != nil {
		t.Fatalf("a rule config.Validate accepts does not compile: %v", err)
	}
}
