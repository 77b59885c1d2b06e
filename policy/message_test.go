package policy

import (
	"testing"
	"time"

	"github.com/imagegate/imagegate/scan"
)

// TestMessage: a verdict's message names the worst findings by id (at
// most three, then how many more) and says what was not counted at or
// above the threshold, so that its number agrees with the scan's counts.
func TestMessage(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	many := &scan.Report{Vulnerabilities: append([]scan.Vulnerability{
		{ID: "CVE-9", Package: "curl", InstalledVersion: "8.0", Severity: scan.SeverityHigh, FixedVersion: "8.1"},
	}, report.Vulnerabilities...)}
	cases := []struct {
		name string
		rule Rule
		r    *scan.Report
		want string
	}{
		{"enforce names the worst first", Rule{Repositories: "prod/**", Mode: Enforce, Severity: scan.SeverityHigh}, report,
			`image has 3 vulnerabilities at or above HIGH (policy "prod/**"): CVE-1 (CRITICAL openssl, fixed in 3.0.9), ` +
				`CVE-2 (HIGH zlib, fixed in 1.3), CVE-3 (HIGH busybox, no fix yet)`},
		{"more than three", Rule{Repositories: "**", Mode: Enforce, Severity: scan.SeverityHigh}, many,
			`image has 4 vulnerabilities at or above HIGH (policy "**"): CVE-1 (CRITICAL openssl, fixed in 3.0.9), ` +
				`CVE-9 (HIGH curl 8.0, fixed in 8.1), CVE-2 (HIGH zlib, fixed in 1.3), and 1 more`},
		{"unfixed not counted", Rule{Repositories: "**", Mode: Enforce, Severity: scan.SeverityHigh, IgnoreUnfixed: true}, report,
			`image has 2 vulnerabilities at or above HIGH (policy "**"): CVE-1 (CRITICAL openssl, fixed in 3.0.9), ` +
				`CVE-2 (HIGH zlib, fixed in 1.3); not counted at or above HIGH: 1 without a fix (ignoreunfixed: CVE-3)`},
		{"allowlisted not counted", Rule{Repositories: "**", Mode: Enforce, Severity: scan.SeverityCritical,
			Allowlist: []Exception{{ID: "CVE-1", Reason: "not reachable"}}}, report,
			`no vulnerabilities at or above CRITICAL (policy "**"); not counted at or above CRITICAL: 1 allowlisted (CVE-1)`},
		{"audit says what enforce would do", Rule{Repositories: "**", Mode: Audit, Severity: scan.SeverityCritical}, report,
			`image has 1 vulnerability at or above CRITICAL (policy "**", audit only: enforce would refuse it): CVE-1 (CRITICAL openssl, fixed in 3.0.9)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rule.Evaluate(tc.r, now).Message; got != tc.want {
				t.Fatalf("message\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestOutcome: the verdict a record keeps says what enforce would have
// decided, also under audit.
func TestOutcome(t *testing.T) {
	now := time.Now()
	clean := &scan.Report{}
	cases := []struct {
		rule Rule
		r    *scan.Report
		want string
	}{
		{Rule{Mode: Enforce, Severity: scan.SeverityHigh}, report, "enforce:block"},
		{Rule{Mode: Enforce, Severity: scan.SeverityHigh}, clean, "enforce:pass"},
		{Rule{Mode: Audit, Severity: scan.SeverityHigh}, report, "audit:would-refuse"},
		{Rule{Mode: Audit, Severity: scan.SeverityHigh}, clean, "audit:pass"},
		{Rule{Mode: Audit, Severity: scan.SeverityHigh, IgnoreUnfixed: true,
			Allowlist: []Exception{{ID: "CVE-1", Reason: "r"}, {ID: "CVE-2", Reason: "r"}}}, report, "audit:pass"},
	}
	for _, tc := range cases {
		if got := tc.rule.Outcome(tc.rule.Evaluate(tc.r, now)); got != tc.want {
			t.Errorf("%s %s on %d findings: %q, want %q", tc.rule.Mode, tc.rule.Severity, len(tc.r.Vulnerabilities), got, tc.want)
		}
	}
}
