// Package policy decides, per repository, what the gate does with a scan:
// block the push (enforce), only record the findings (audit), or not scan
// at all (off); which severity blocks; whether unfixed vulnerabilities
// count; which CVEs are allowed, why and until when; and what happens when
// the scanner fails.
package policy

import (
	"fmt"
	"slices"
	"time"

	"github.com/imagegate/imagegate/internal/repopattern"
	"github.com/imagegate/imagegate/scan"
)

// Mode is what a rule does with scan results.
type Mode string

const (
	Enforce Mode = "enforce" // findings at or above the threshold refuse the push
	Audit   Mode = "audit"   // findings are recorded; the push passes
	Off     Mode = "off"     // no scan
)

// OnError is what happens when the scan fails or times out.
type OnError string

const (
	Reject OnError = "reject" // refuse the push (the default in enforce mode)
	Accept OnError = "accept" // let it through, recording the failure
)

// Exception allows one vulnerability (by id) despite the threshold.
type Exception struct {
	ID     string
	Reason string
	// Expires ends the exception; zero never expires.
	Expires time.Time
}

// Rule is the policy for repositories matching Repositories.
type Rule struct {
	Repositories  string
	Mode          Mode
	Severity      scan.Severity
	IgnoreUnfixed bool
	OnError       OnError
	Allowlist     []Exception
}

// Set is an ordered list of rules; the first matching rule applies.
type Set struct {
	rules    []Rule
	patterns []repopattern.Pattern
}

// NewSet checks and compiles rules.
func NewSet(rules []Rule) (*Set, error) {
	s := &Set{}
	for i, r := range rules {
		p, err := repopattern.Compile(r.Repositories)
		if err != nil {
			return nil, fmt.Errorf("policy %d: %w", i, err)
		}
		if !slices.Contains([]Mode{Enforce, Audit, Off}, r.Mode) {
			return nil, fmt.Errorf("policy %d (%s): mode must be enforce, audit or off, got %q", i, r.Repositories, r.Mode)
		}
		if !slices.Contains([]OnError{Reject, Accept}, r.OnError) {
			return nil, fmt.Errorf("policy %d (%s): onerror must be reject or accept, got %q", i, r.Repositories, r.OnError)
		}
		for _, e := range r.Allowlist {
			if e.ID == "" || e.Reason == "" {
				return nil, fmt.Errorf("policy %d (%s): every allowlist entry needs an id and a reason", i, r.Repositories)
			}
		}
		s.rules = append(s.rules, r)
		s.patterns = append(s.patterns, p)
	}
	return s, nil
}

// For returns the rule for repo; without a match, scanning is off.
func (s *Set) For(repo string) Rule {
	for i, p := range s.patterns {
		if p.Match(repo) {
			return s.rules[i]
		}
	}
	return Rule{Repositories: "", Mode: Off, OnError: Accept}
}

// Verdict is a rule's judgement of a scan report.
type Verdict struct {
	// Block is true when the push must be refused.
	Block bool
	// Violations are the findings at or above the threshold that no
	// exception covers (and, with IgnoreUnfixed, that have a fix).
	Violations []scan.Vulnerability
	// Excepted are findings at or above the threshold an unexpired
	// exception let through.
	Excepted []scan.Vulnerability
	// Unfixed are findings at or above the threshold not counted because
	// no fix exists and the rule ignores unfixed ones.
	Unfixed []scan.Vulnerability
	// Message explains the verdict to the pusher.
	Message string
}

// Evaluate judges report under r at time now.
func (r Rule) Evaluate(report *scan.Report, now time.Time) Verdict {
	var v Verdict
	for _, f := range report.Vulnerabilities {
		if !f.Severity.AtLeast(r.Severity) {
			continue
		}
		switch {
		case r.IgnoreUnfixed && !f.Fixed():
			v.Unfixed = append(v.Unfixed, f)
		case r.excepts(f.ID, now):
			v.Excepted = append(v.Excepted, f)
		default:
			v.Violations = append(v.Violations, f)
		}
	}
	v.Block = len(v.Violations) > 0 && r.Mode == Enforce
	v.Message = r.message(v)
	return v
}

// Outcome names the verdict as records keep it: "<mode>:block" when the
// push is refused, "audit:would-refuse" when an audit policy let through
// what enforce would have refused, "<mode>:pass" otherwise.
func (r Rule) Outcome(v Verdict) string {
	switch {
	case v.Block:
		return string(r.Mode) + ":block"
	case len(v.Violations) > 0:
		return string(r.Mode) + ":would-refuse"
	}
	return string(r.Mode) + ":pass"
}

// excepts reports whether an unexpired exception covers id.
func (r Rule) excepts(id string, now time.Time) bool {
	for _, e := range r.Allowlist {
		if e.ID == id && (e.Expires.IsZero() || now.Before(e.Expires)) {
			return true
		}
	}
	return false
}

func plural(n int) string {
	if n == 1 {
		return "vulnerability"
	}
	return "vulnerabilities"
}
