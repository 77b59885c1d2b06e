package push

import (
	"testing"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/analysis"
	"github.com/imagegate/imagegate/layers"
)

// TestAnalyzeReasons: an analysis refusal for names that leave the
// image's root counts as unsafe_paths; one for waste, or for an image
// that cannot be analysed, as waste.
func TestAnalyzeReasons(t *testing.T) {
	enforce := analysis.Rule{Repositories: "**", Mode: analysis.Enforce, MaxWastedBytes: 1}
	slip := &layers.Report{Layers: []layers.LayerReport{{Unsafe: 1}}}
	wasteful := &layers.Report{WastedBytes: 10}
	refusal := func(r *layers.Report) error {
		v := enforce.Evaluate(r)
		if !v.Block {
			t.Fatalf("%+v not refused", r)
		}
		return errcode.ErrorCodeDenied.WithMessage(v.Message).WithDetail(analysisDetail(r, enforce, v))
	}
	for name, c := range map[string]struct {
		err  error
		want string
	}{
		"unsafe names":   {refusal(slip), ReasonUnsafePaths},
		"waste":          {refusal(wasteful), ReasonWaste},
		"unanalysable":   {errcode.ErrorCodeDenied.WithMessage("cannot be analysed").WithDetail(map[string]any{"reason": "x"}), ReasonWaste},
		"detail of none": {errcode.ErrorCodeDenied.WithMessage("no detail"), ReasonWaste},
	} {
		if outcome, reason := gateReason(StageAnalyze, c.err, nil); outcome != OutcomeRefused || reason != c.want {
			t.Errorf("%s: %s/%s, want refused/%s", name, outcome, reason, c.want)
		}
	}
}
