package ui

import (
	"net/url"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/metadata"
)

// TestFilterFindings: each filter keeps exactly its findings; an expired
// allowlist entry is shown but does not count as allowlisted.
func TestFilterFindings(t *testing.T) {
	findings := []metadata.Finding{
		{ID: "C", Severity: "CRITICAL", FixedVersion: "2"},
		{ID: "H", Severity: "HIGH", FixedVersion: "2"},
		{ID: "HU", Severity: "HIGH"},
		{ID: "M", Severity: "MEDIUM", FixedVersion: "2"},
	}
	allow := []allowEntry{{ID: "H", Reason: "r"}, {ID: "M", Reason: "r", Expired: true}}
	for _, c := range []struct {
		f    findingFilter
		want string
	}{
		{findingFilter{}, "C H HU M"},
		{findingFilter{Severity: "HIGH"}, "H HU"},
		{findingFilter{Fix: "unfixed"}, "HU"},
		{findingFilter{Fix: "fixed", Severity: "HIGH"}, "H"},
		{findingFilter{Allowlist: "yes"}, "H"},
		{findingFilter{Allowlist: "no"}, "C HU M"},
		{findingFilter{Severity: "LOW"}, ""},
	} {
		var ids []string
		for _, r := range filterFindings(findings, allow, c.f) {
			ids = append(ids, r.ID)
			if (r.ID == "H" || r.ID == "M") != (r.Allow != nil) {
				t.Errorf("%s: allowlist entry %+v", r.ID, r.Allow)
			}
		}
		if got := strings.Join(ids, " "); got != c.want {
			t.Errorf("%+v: %q, want %q", c.f, got, c.want)
		}
	}
}

// TestReadFindingFilter: only the filter's choices are read, each once.
func TestReadFindingFilter(t *testing.T) {
	for q, ok := range map[string]bool{
		"":                                      true,
		"severity=HIGH&fix=fixed&allowlist=yes": true,
		"severity=":                             true,
		"severity=high":                         false,
		"fix=maybe":                             false,
		"allowlist=yes&allowlist=no":            false,
		"severity=<script>":                     false,
	} {
		v, _ := url.ParseQuery(q)
		if _, got := readFindingFilter(v); got != ok {
			t.Errorf("%q: ok %v, want %v", q, got, ok)
		}
	}
}
