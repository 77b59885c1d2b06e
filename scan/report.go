package scan

import (
	"cmp"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
)

// Report is the result of scanning one Target.
type Report struct {
	// Scanner names the implementation ("trivy") and ScannerVersion its
	// version ("v0.74.0").
	Scanner        string
	ScannerVersion string
	// DBVersion is the vulnerability DB schema version and DBUpdatedAt when
	// the DB content was built: together they identify the DB the findings
	// come from.
	DBVersion   string
	DBUpdatedAt time.Time
	// ScannedAt is when the scan finished.
	ScannedAt time.Time
	// OS is the detected distribution and version, e.g. "alpine 3.22.1";
	// empty when none was detected.
	OS string
	// Vulnerabilities are sorted by severity (highest first), then ID,
	// then package.
	Vulnerabilities []Vulnerability
}

// Vulnerability is one vulnerability found in one installed package.
type Vulnerability struct {
	ID               string // e.g. "CVE-2024-1234"
	Package          string
	InstalledVersion string
	// FixedVersion is empty when no fix is published.
	FixedVersion string
	Severity     Severity
	Title        string
	PrimaryURL   string
	// Status is the advisory status as the DB tells it, e.g. "fixed",
	// "affected", "will_not_fix".
	Status string
	// Layer is the digest of the manifest layer that installed the package;
	// empty when unknown.
	Layer digest.Digest
}

// Fixed reports whether a fixed version is published.
func (v Vulnerability) Fixed() bool { return v.FixedVersion != "" }

// MaxSeverity returns the highest severity in r, SeverityUnknown when r has
// no vulnerabilities.
func (r *Report) MaxSeverity() Severity {
	m := SeverityUnknown
	for _, v := range r.Vulnerabilities {
		m = max(m, v.Severity)
	}
	return m
}

// Count returns how many vulnerabilities r has per severity.
func (r *Report) Count() map[Severity]int {
	c := make(map[Severity]int, len(severityNames))
	for _, v := range r.Vulnerabilities {
		c[v.Severity]++
	}
	return c
}

// SortVulnerabilities orders vs by severity (highest first), ID, package
// and installed version: the order of Report.Vulnerabilities.
func SortVulnerabilities(vs []Vulnerability) {
	slices.SortFunc(vs, func(a, b Vulnerability) int {
		return cmp.Or(
			cmp.Compare(b.Severity, a.Severity),
			cmp.Compare(a.ID, b.ID),
			cmp.Compare(a.Package, b.Package),
			cmp.Compare(a.InstalledVersion, b.InstalledVersion),
		)
	})
}
