package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/metadata"
)

// TestImagePageBoundsFindings: a scan records up to 1,000 findings, whose
// versions (and the names of packages in the image) the pusher wrote;
// with a 10 KB version each, the findings table was 50 MB of the page.
func TestImagePageBoundsFindings(t *testing.T) {
	version := "4.17.0-" + strings.Repeat("'", 10_000)
	var rows []findingRow
	for i := range 1000 {
		rows = append(rows, findingRow{Finding: metadata.Finding{ID: fmt.Sprintf("CVE-2026-%d", i), Package: "lodash" + strings.Repeat("'", 10_000),
			InstalledVersion: version, FixedVersion: version, Severity: "HIGH"}})
	}
	v := imageView{Name: "team/app", Digest: "sha256:aaaa", Latest: &metadata.Record{Digest: "sha256:aaaa"},
		Scan: &metadata.ScanSummary{Scanner: "trivy"}, Findings: rows, Total: len(rows)}
	page := renderImage(t, v)
	if len(page) > 4<<20 {
		t.Errorf("the image page with 1,000 findings is %d bytes, want at most 4 MiB", len(page))
	}
	if !strings.Contains(page, "CVE-2026-999") || !strings.Contains(page, "… (10007 bytes)") {
		t.Error("the findings are not all shown, their long versions cut with their length")
	}
}

// TestImagePageBoundsTagHistory: 1,000 uploads of one image, each with 64
// tags of 128 bytes, gave a tag history of 64,000 events on the page.
func TestImagePageBoundsTagHistory(t *testing.T) {
	var events []tagEvent
	for i := range 64_000 {
		events = append(events, tagEvent{Tag: fmt.Sprintf("%06d", i) + strings.Repeat("t", 122), Event: "tagged", Status: "accepted"})
	}
	v := imageView{Name: "team/app", Digest: "sha256:aaaa", Latest: &metadata.Record{Digest: "sha256:aaaa"}, TagHistory: events}
	v.bound()
	page := renderImage(t, v)
	if len(page) > 1<<20 {
		t.Errorf("the image page with 64,000 tag events is %d bytes, want at most 1 MiB", len(page))
	}
	if !strings.Contains(page, "The newest 100 of 64000 events") || !strings.Contains(page, "000099t") || strings.Contains(page, "000100t") {
		t.Error("the page does not show the newest 100 events and say how many there are")
	}
}

// renderImage is the image page of v, as the UI renders it.
func renderImage(t *testing.T, v imageView) string {
	t.Helper()
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	if err := pages["image"].Execute(&buf, frame{Title: "t", Data: v}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}
