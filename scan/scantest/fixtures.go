package scantest

import "github.com/imagegate/imagegate/scan"

// Fixture CVE ids. They use the reserved-looking year 2099 so they can never
// collide with a real advisory.
const (
	// CVECritical affects musl in VulnerableImage, fixed in 1.2.5-r11.
	CVECritical = "CVE-2099-1001"
	// CVEHigh affects busybox in VulnerableImage, fixed in 1.37.0-r19. Its
	// vendor (Alpine) severity HIGH outranks its NVD severity LOW.
	CVEHigh = "CVE-2099-1002"
	// CVEMedium affects zlib in VulnerableImage, fixed in 1.3.1-r3.
	CVEMedium = "CVE-2099-1003"
	// CVEHighUnfixed affects libxml2 in VulnerableImage; no fix exists
	// (for ignore-unfixed policies).
	CVEHighUnfixed = "CVE-2099-1004"
	// CVELow affects apk-tools in VulnerableImage, fixed in 2.14.9-r3.
	CVELow = "CVE-2099-1005"
	// CVEAlreadyFixed is an advisory for busybox fixed long before either
	// image's version: never reported.
	CVEAlreadyFixed = "CVE-2099-1901"
	// CVENotInstalled is an advisory for openssl, which neither image
	// installs: never reported.
	CVENotInstalled = "CVE-2099-1902"
)

// Platform is the DB bucket of the fixture advisories and OS the
// distribution a scanner detects in every fixture image.
const (
	Platform = "alpine 3.22"
	OS       = "alpine 3.22.1"
)

// Advisory is one fixture DB entry: a vulnerability of an Alpine source
// package on Platform.
type Advisory struct {
	ID      string
	Package string // source package (apk origin)
	// FixedVersion is empty for an unfixed vulnerability.
	FixedVersion string
	// Severity is the severity a scanner must report. VendorSeverity, when
	// set, is what the Alpine data source says and NVDSeverity what NVD
	// says; a scanner prefers the vendor's.
	Severity       scan.Severity
	VendorSeverity *scan.Severity
	NVDSeverity    scan.Severity
	Title          string
}

func sev(s scan.Severity) *scan.Severity { return &s }

// Advisories returns every advisory of the fixture DB, including the two
// that must never match (CVEAlreadyFixed, CVENotInstalled).
func Advisories() []Advisory {
	return []Advisory{
		{ID: CVECritical, Package: "musl", FixedVersion: "1.2.5-r11", Severity: scan.SeverityCritical,
			NVDSeverity: scan.SeverityCritical, Title: "musl: fixture critical bug"},
		{ID: CVEHigh, Package: "busybox", FixedVersion: "1.37.0-r19", Severity: scan.SeverityHigh,
			VendorSeverity: sev(scan.SeverityHigh), NVDSeverity: scan.SeverityLow, Title: "busybox: fixture high bug"},
		{ID: CVEMedium, Package: "zlib", FixedVersion: "1.3.1-r3", Severity: scan.SeverityMedium,
			NVDSeverity: scan.SeverityMedium, Title: "zlib: fixture medium bug"},
		{ID: CVEHighUnfixed, Package: "libxml2", Severity: scan.SeverityHigh,
			NVDSeverity: scan.SeverityHigh, Title: "libxml2: fixture unfixed high bug"},
		{ID: CVELow, Package: "apk-tools", FixedVersion: "2.14.9-r3", Severity: scan.SeverityLow,
			NVDSeverity: scan.SeverityLow, Title: "apk-tools: fixture low bug"},
		{ID: CVEAlreadyFixed, Package: "busybox", FixedVersion: "1.36.1-r0", Severity: scan.SeverityMedium,
			NVDSeverity: scan.SeverityMedium, Title: "busybox: fixed long ago"},
		{ID: CVENotInstalled, Package: "openssl", FixedVersion: "3.5.2-r0", Severity: scan.SeverityCritical,
			NVDSeverity: scan.SeverityCritical, Title: "openssl: not installed"},
	}
}

// Package is one installed apk package of a fixture image.
type Package struct{ Name, Version string }

// VulnerablePackages are installed in VulnerableImage; CleanPackages in
// CleanImage (every fix applied, libxml2 absent).
var (
	VulnerablePackages = []Package{
		{"musl", "1.2.5-r10"}, {"busybox", "1.37.0-r18"}, {"zlib", "1.3.1-r2"},
		{"libxml2", "2.13.8-r0"}, {"apk-tools", "2.14.9-r2"},
	}
	CleanPackages = []Package{
		{"musl", "1.2.5-r11"}, {"busybox", "1.37.0-r19"}, {"zlib", "1.3.1-r3"},
		{"apk-tools", "2.14.9-r3"},
	}
)

// VulnerableFindings returns what scanning VulnerableImage must find, in
// Report order, with Layer and Status left empty (they depend on the image
// and the scanner): exactly CVECritical, CVEHigh, CVEHighUnfixed, CVEMedium
// and CVELow.
func VulnerableFindings() []scan.Vulnerability {
	installed := map[string]string{}
	for _, p := range VulnerablePackages {
		installed[p.Name] = p.Version
	}
	var out []scan.Vulnerability
	for _, a := range Advisories() {
		if a.ID == CVEAlreadyFixed || a.ID == CVENotInstalled {
			continue
		}
		out = append(out, scan.Vulnerability{
			ID: a.ID, Package: a.Package, InstalledVersion: installed[a.Package],
			FixedVersion: a.FixedVersion, Severity: a.Severity, Title: a.Title,
		})
	}
	scan.SortVulnerabilities(out)
	return out
}
