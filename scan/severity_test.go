package scan_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/imagegate/imagegate/scan"
)

func TestParseSeverity(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    scan.Severity
		wantErr bool
	}{
		{"CRITICAL", scan.SeverityCritical, false},
		{"high", scan.SeverityHigh, false},
		{" Medium ", scan.SeverityMedium, false},
		{"LOW", scan.SeverityLow, false},
		{"unknown", scan.SeverityUnknown, false},
		{"", scan.SeverityUnknown, true},
		{"severe", scan.SeverityUnknown, true},
	} {
		got, err := scan.ParseSeverity(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseSeverity(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestSeverityOrder(t *testing.T) {
	all := scan.Severities()
	if !slices.IsSorted(all) || len(all) != 5 {
		t.Fatalf("Severities() = %v, want 5 in ascending order", all)
	}
	if !scan.SeverityHigh.AtLeast(scan.SeverityHigh) || !scan.SeverityCritical.AtLeast(scan.SeverityHigh) ||
		scan.SeverityMedium.AtLeast(scan.SeverityHigh) {
		t.Error("AtLeast does not follow the ranking")
	}
	for _, s := range all {
		back, err := scan.ParseSeverity(s.String())
		if err != nil || back != s {
			t.Errorf("ParseSeverity(%v.String()) = %v, %v", s, back, err)
		}
	}
	if got := scan.Severity(9).String(); got != "Severity(9)" {
		t.Errorf("invalid severity prints %q", got)
	}
}

func TestSeverityJSON(t *testing.T) {
	b, err := json.Marshal(scan.Vulnerability{ID: "CVE-1", Severity: scan.SeverityHigh})
	if err != nil {
		t.Fatal(err)
	}
	var v scan.Vulnerability
	if err := json.Unmarshal(b, &v); err != nil || v.Severity != scan.SeverityHigh {
		t.Fatalf("round trip of %s: %+v, %v", b, v, err)
	}
	if err := json.Unmarshal([]byte(`{"Severity":"SEVERE"}`), &v); err == nil {
		t.Error("unknown severity unmarshalled without error")
	}
}

func TestReportSummary(t *testing.T) {
	r := &scan.Report{Vulnerabilities: []scan.Vulnerability{
		{ID: "CVE-B", Severity: scan.SeverityMedium},
		{ID: "CVE-A", Severity: scan.SeverityCritical},
		{ID: "CVE-C", Severity: scan.SeverityMedium},
	}}
	if got := r.MaxSeverity(); got != scan.SeverityCritical {
		t.Errorf("MaxSeverity = %v", got)
	}
	if c := r.Count(); c[scan.SeverityMedium] != 2 || c[scan.SeverityCritical] != 1 || c[scan.SeverityLow] != 0 {
		t.Errorf("Count = %v", c)
	}
	scan.SortVulnerabilities(r.Vulnerabilities)
	var ids []string
	for _, v := range r.Vulnerabilities {
		ids = append(ids, v.ID)
	}
	if want := []string{"CVE-A", "CVE-B", "CVE-C"}; !slices.Equal(ids, want) {
		t.Errorf("sorted = %v, want %v", ids, want)
	}
}
