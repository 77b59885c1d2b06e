package api

import (
	"time"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/policy"
)

// PolicyReader gives the scan policy rule in force for a repository
// (policy.Set.For): the vulnerabilities endpoint reports which of a
// scan's findings its allowlist covers.
type PolicyReader interface {
	For(repo string) policy.Rule
}

// allowlisted is an allowlist entry of the policy in force that names a
// finding of the scan: why, until when (nil: no expiry), and whether it
// has expired (an expired entry lets nothing through any more).
type allowlisted struct {
	ID      string     `json:"id"`
	Reason  string     `json:"reason"`
	Expires *time.Time `json:"expires,omitempty"`
	Expired bool       `json:"expired"`
}

// allowlistOf returns the entries of rule's allowlist whose ID is a
// finding's, at time now, in the allowlist's order; each ID once (the
// first entry naming it, as the policy itself decides).
func allowlistOf(rule policy.Rule, findings []metadata.Finding, now time.Time) []allowlisted {
	found := make(map[string]bool, len(findings))
	for _, f := range findings {
		found[f.ID] = true
	}
	var out []allowlisted
	for _, e := range rule.Allowlist {
		if !found[e.ID] {
			continue
		}
		found[e.ID] = false
		a := allowlisted{ID: e.ID, Reason: e.Reason}
		if !e.Expires.IsZero() {
			exp := e.Expires
			a.Expires, a.Expired = &exp, !now.Before(exp)
		}
		out = append(out, a)
	}
	return out
}
