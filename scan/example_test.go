package scan_test

import (
	"fmt"

	"github.com/imagegate/imagegate/scan"
)

// A policy blocks fixed vulnerabilities at or above a configured severity.
func ExampleParseSeverity() {
	threshold, err := scan.ParseSeverity("high")
	if err != nil {
		panic(err)
	}
	report := &scan.Report{Vulnerabilities: []scan.Vulnerability{
		{ID: "CVE-2099-1001", Severity: scan.SeverityCritical, FixedVersion: "1.2.5-r11"},
		{ID: "CVE-2099-1004", Severity: scan.SeverityHigh},
		{ID: "CVE-2099-1003", Severity: scan.SeverityMedium, FixedVersion: "1.3.1-r3"},
	}}
	for _, v := range report.Vulnerabilities {
		if v.Severity.AtLeast(threshold) && v.Fixed() {
			fmt.Println("blocked by", v.ID, v.Severity)
		}
	}
	// Output: blocked by CVE-2099-1001 CRITICAL
}
