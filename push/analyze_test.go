package push

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/imagegate/imagegate/analysis"
	"github.com/imagegate/imagegate/layers"
	"github.com/imagegate/imagegate/metadata"
)

// TestAnalysisSummaryIsBounded: however big the report, the record keeps
// at most metadata.MaxAnalysisWaste wastes and strings of at most
// metadata.MaxAnalysisText bytes, cut on a rune boundary.
func TestAnalysisSummaryIsBounded(t *testing.T) {
	long := strings.Repeat("é", 1000) // 2,000 bytes
	r := &layers.Report{WastedBytes: 10, WastedPercent: 50, Efficiency: 0.5, ImageBytes: 10}
	for range 50 {
		r.Waste = append(r.Waste, layers.Finding{Kind: "temp", Path: "/" + long, Bytes: 1, CreatedBy: long})
	}
	rule := analysis.Rule{Repositories: "**", Mode: analysis.Audit, MaxWastedBytes: 1}
	s := analysisSummary(r, rule, rule.Evaluate(r), time.Unix(0, 0))
	if len(s.TopWaste) != metadata.MaxAnalysisWaste || s.Verdict != "audit:would-refuse" {
		t.Fatalf("%d wastes, verdict %s", len(s.TopWaste), s.Verdict)
	}
	for _, str := range []string{s.Message, s.TopWaste[0].Path, s.TopWaste[0].CreatedBy} {
		if len(str) > metadata.MaxAnalysisText || !utf8.ValidString(str) || !strings.HasSuffix(str, "…") {
			t.Fatalf("%d bytes, valid %v: %q…", len(str), utf8.ValidString(str), str[:20])
		}
	}
}
