package push

import (
	"testing"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/scan"
)

// TestVerdictOfEveryOutcome maps every verdict policy.Rule.Outcome and the
// pipeline write to its metric label: an audit policy's "would-refuse"
// counts as what its threshold caught (block), not as not-scanned.
func TestVerdictOfEveryOutcome(t *testing.T) {
	blocked := policy.Verdict{Block: true, Violations: []scan.Vulnerability{{ID: "CVE-1"}}}
	caught := policy.Verdict{Violations: []scan.Vulnerability{{ID: "CVE-1"}}}
	enforce, audit := policy.Rule{Mode: policy.Enforce}, policy.Rule{Mode: policy.Audit}
	for verdict, want := range map[string]string{
		enforce.Outcome(blocked):          VerdictBlock,
		audit.Outcome(caught):             VerdictBlock,
		enforce.Outcome(policy.Verdict{}): VerdictPass,
		audit.Outcome(policy.Verdict{}):   VerdictPass,
		verdictScanFailed:                 VerdictScanFailed,
		"scan-failed-accepted":            VerdictScanFailed,
		"scan-in-progress":                VerdictInProgress,
		"enforce:unscannable":             VerdictUnscannable,
		"":                                VerdictNotScanned,
	} {
		rec := &metadata.Record{Scan: &metadata.ScanSummary{Verdict: verdict}}
		if got := verdictOf(rec); got != want {
			t.Errorf("verdictOf(%q) = %q, want %q", verdict, got, want)
		}
	}
}
