package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/scan"
)

var report = &scan.Report{Vulnerabilities: []scan.Vulnerability{
	{ID: "CVE-1", Package: "openssl", Severity: scan.SeverityCritical, FixedVersion: "3.0.9"},
	{ID: "CVE-2", Package: "zlib", Severity: scan.SeverityHigh, FixedVersion: "1.3"},
	{ID: "CVE-3", Package: "busybox", Severity: scan.SeverityHigh},
	{ID: "CVE-4", Package: "musl", Severity: scan.SeverityMedium, FixedVersion: "1.2.5"},
}}

func ids(vs []scan.Vulnerability) string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ID)
	}
	return strings.Join(out, ",")
}

func TestEvaluate(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		rule      Rule
		block     bool
		violating string
		excepted  string
		message   string
	}{
		{"enforce high", Rule{Repositories: "prod/**", Mode: Enforce, Severity: scan.SeverityHigh}, true, "CVE-1,CVE-2,CVE-3", "",
			`image has 3 vulnerabilities at or above HIGH (policy "prod/**")`},
		{"enforce critical", Rule{Repositories: "**", Mode: Enforce, Severity: scan.SeverityCritical}, true, "CVE-1", "",
			`image has 1 vulnerability at or above CRITICAL`},
		{"audit", Rule{Repositories: "**", Mode: Audit, Severity: scan.SeverityHigh}, false, "CVE-1,CVE-2,CVE-3", "", "audit only"},
		{"ignore unfixed", Rule{Repositories: "**", Mode: Enforce, Severity: scan.SeverityHigh, IgnoreUnfixed: true}, true, "CVE-1,CVE-2", "", "2 vulnerabilities"},
		{"allowlist", Rule{Repositories: "**", Mode: Enforce, Severity: scan.SeverityCritical,
			Allowlist: []Exception{{ID: "CVE-1", Reason: "not reachable", Expires: now.Add(time.Hour)}}}, false, "", "CVE-1", "no vulnerabilities at or above CRITICAL"},
		{"expired allowlist", Rule{Repositories: "**", Mode: Enforce, Severity: scan.SeverityCritical,
			Allowlist: []Exception{{ID: "CVE-1", Reason: "was not reachable", Expires: now.Add(-time.Hour)}}}, true, "CVE-1", "", "1 vulnerability"},
		{"no expiry", Rule{Repositories: "**", Mode: Enforce, Severity: scan.SeverityCritical,
			Allowlist: []Exception{{ID: "CVE-1", Reason: "vendor says so"}}}, false, "", "CVE-1", ""},
		{"threshold above all", Rule{Repositories: "**", Mode: Enforce, Severity: scan.SeverityCritical}, true, "CVE-1", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.rule.Evaluate(report, now)
			if v.Block != tc.block || ids(v.Violations) != tc.violating || ids(v.Excepted) != tc.excepted || !strings.Contains(v.Message, tc.message) {
				t.Fatalf("got block=%v violations=%s excepted=%s message=%q", v.Block, ids(v.Violations), ids(v.Excepted), v.Message)
			}
		})
	}
}

func TestSetFirstMatchWins(t *testing.T) {
	s, err := NewSet([]Rule{
		{Repositories: "prod/**", Mode: Enforce, Severity: scan.SeverityHigh, OnError: Reject},
		{Repositories: "**", Mode: Audit, Severity: scan.SeverityCritical, OnError: Accept},
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.For("prod/api"); r.Mode != Enforce {
		t.Fatalf("prod/api: %+v", r)
	}
	if r := s.For("dev/api"); r.Mode != Audit {
		t.Fatalf("dev/api: %+v", r)
	}
	empty, _ := NewSet(nil)
	if r := empty.For("x"); r.Mode != Off {
		t.Fatalf("no rules: %+v", r)
	}
}

func TestNewSetRejects(t *testing.T) {
	for _, rules := range [][]Rule{
		{{Repositories: "", Mode: Enforce, OnError: Reject}},
		{{Repositories: "**", Mode: "block", OnError: Reject}},
		{{Repositories: "**", Mode: Enforce, OnError: "maybe"}},
		{{Repositories: "**", Mode: Enforce, OnError: Reject, Allowlist: []Exception{{ID: "CVE-1"}}}},
	} {
		if _, err := NewSet(rules); err == nil {
			t.Errorf("%+v accepted", rules)
		}
	}
}
