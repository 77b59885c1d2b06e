package ui

import (
	"net/url"
	"slices"
	"time"

	"github.com/imagegate/imagegate/metadata"
)

// findingFilter is the image page's findings filter, its GET form's query
// parameters: severity (one severity, "" all), fix ("fixed": a fix
// exists, "unfixed": none, "" both), allowlist ("yes": findings the
// policy in force allowlists, "no": the others, "" both).
type findingFilter struct {
	Severity  string
	Fix       string
	Allowlist string
}

// Choices of the filter's selects; "" is "all".
var (
	severityChoices  = []string{"", "CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"}
	fixChoices       = []string{"", "fixed", "unfixed"}
	allowlistChoices = []string{"", "yes", "no"}
)

// readFindingFilter reads the filter from q; ok is false when a value is
// none of its choices (or given twice).
func readFindingFilter(q url.Values) (f findingFilter, ok bool) {
	one := func(key string, choices []string) (string, bool) {
		v := q[key]
		if len(v) == 0 {
			return "", true
		}
		return v[0], len(v) == 1 && slices.Contains(choices, v[0])
	}
	var okS, okF, okA bool
	f.Severity, okS = one("severity", severityChoices)
	f.Fix, okF = one("fix", fixChoices)
	f.Allowlist, okA = one("allowlist", allowlistChoices)
	return f, okS && okF && okA
}

// Active reports whether the filter hides anything.
func (f findingFilter) Active() bool { return f != findingFilter{} }

// allowEntry is an allowlist entry of the vulnerabilities answer.
type allowEntry struct {
	ID      string     `json:"id"`
	Reason  string     `json:"reason"`
	Expires *time.Time `json:"expires"`
	Expired bool       `json:"expired"`
}

// findingRow is a finding with the allowlist entry naming it, if any.
type findingRow struct {
	metadata.Finding
	Allow *allowEntry
}

// filterFindings returns the rows of findings (already in display order)
// that f keeps. An expired entry still shows (as expired) but does not
// count as allowlisted.
func filterFindings(findings []metadata.Finding, allow []allowEntry, f findingFilter) []findingRow {
	byID := make(map[string]*allowEntry, len(allow))
	for i := range allow {
		byID[allow[i].ID] = &allow[i]
	}
	var rows []findingRow
	for _, fd := range findings {
		a := byID[fd.ID]
		allowed := a != nil && !a.Expired
		switch {
		case f.Severity != "" && fd.Severity != f.Severity,
			f.Fix == "fixed" && fd.FixedVersion == "",
			f.Fix == "unfixed" && fd.FixedVersion != "",
			f.Allowlist == "yes" && !allowed,
			f.Allowlist == "no" && allowed:
			continue
		}
		rows = append(rows, findingRow{Finding: fd, Allow: a})
	}
	return rows
}

// The filter's choices, for the template.
func (imageView) SeverityChoices() []string  { return severityChoices }
func (imageView) FixChoices() []string       { return fixChoices }
func (imageView) AllowlistChoices() []string { return allowlistChoices }
