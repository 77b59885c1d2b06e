package analysis_test

import (
	"testing"

	"github.com/imagegate/imagegate/analysis"
	"github.com/imagegate/imagegate/layers"
)

// wasteful is a report with known figures: 412 MB wasted of 1084 MB,
// mostly an apt cache left by layer 3.
func wasteful() *layers.Report {
	return &layers.Report{
		TotalBytes: 1_084_000_000, ImageBytes: 672_000_000, WastedBytes: 412_000_000, WastedPercent: 38.0, Efficiency: 0.62,
		Waste: []layers.Finding{
			{Kind: "package-cache", Path: "var/cache/apt", Bytes: 380_000_000, Layer: 2,
				CreatedBy: "/bin/sh -c apt-get update && apt-get install -y build-essential ca-certificates curl git"},
		},
	}
}

func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rule    analysis.Rule
		block   bool
		outcome string
		message string
	}{
		{"wasted bytes, enforce", analysis.Rule{Repositories: "team/**", Mode: analysis.Enforce, MaxWastedBytes: 100_000_000}, true, "enforce:block",
			`image wastes 412 MB (38 %) — 380 MB of /var/cache/apt added in layer 3 by "apt-get update && apt-get install -y build-essential ca-cer…"; policy "team/**" allows at most 100 MB`},
		{"every threshold, audit", analysis.Rule{Repositories: "**", Mode: analysis.Audit, MaxWastedBytes: 100_000_000, MaxWastedPercent: 10, MinEfficiency: 0.9}, false, "audit:would-refuse",
			`image wastes 412 MB (38 %) — 380 MB of /var/cache/apt added in layer 3 by "apt-get update && apt-get install -y build-essential ca-cer…"; policy "**" requires an efficiency of at least 90 % (this image: 62 %) and allows at most 100 MB and allows at most 10 % wasted (audit only: enforce would refuse it)`},
		{"within", analysis.Rule{Repositories: "team/**", Mode: analysis.Enforce, MaxWastedBytes: 500_000_000}, false, "enforce:pass",
			`image wastes 412 MB (38 %) — 380 MB of /var/cache/apt added in layer 3 by "apt-get update && apt-get install -y build-essential ca-cer…"; within policy "team/**"`},
		{"no thresholds", analysis.Rule{Repositories: "**", Mode: analysis.Audit}, false, "audit:pass", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.rule.Evaluate(wasteful())
			if v.Block != tc.block || v.Outcome != tc.outcome {
				t.Fatalf("block %v outcome %q, want %v %q", v.Block, v.Outcome, tc.block, tc.outcome)
			}
			if tc.message != "" && v.Message != tc.message {
				t.Fatalf("message\n got %s\nwant %s", v.Message, tc.message)
			}
		})
	}
}

func TestMessageWithoutRecognisedWaste(t *testing.T) {
	r := &layers.Report{WastedBytes: 2_500, WastedPercent: 2.5, Efficiency: 0.975,
		Inefficiencies: []layers.Inefficiency{{Path: "app/data.bin", Count: 2, WastedBytes: 2_500}}}
	v := analysis.Rule{Repositories: "x", Mode: analysis.Enforce, MaxWastedBytes: 1000}.Evaluate(r)
	want := `image wastes 2.5 kB (2.5 %) — 2.5 kB wasted on /app/data.bin (in 2 layers); policy "x" allows at most 1 kB`
	if v.Message != want {
		t.Fatalf("message\n got %s\nwant %s", v.Message, want)
	}
}

func TestSet(t *testing.T) {
	s, err := analysis.NewSet([]analysis.Rule{{Repositories: "team/**", Mode: analysis.Enforce, MaxWastedBytes: 1}, {Repositories: "**", Mode: analysis.Audit}})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.For("team/a/b"); r.Mode != analysis.Enforce {
		t.Fatalf("team/a/b: %+v", r)
	}
	if r := s.For("other"); r.Mode != analysis.Audit {
		t.Fatalf("other: %+v", r)
	}
	var none *analysis.Set
	if r := none.For("x"); r.Mode != analysis.Off {
		t.Fatalf("nil set: %+v", r)
	}
	for _, bad := range []analysis.Rule{{Repositories: "", Mode: analysis.Audit}, {Repositories: "**", Mode: "block"}, {Repositories: "**", Mode: analysis.Audit, MinEfficiency: 2}} {
		if _, err := analysis.NewSet([]analysis.Rule{bad}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestBytesAndCommand(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1 kB", 2500: "2.5 kB", 412_000_000: "412 MB", 1_500_000_000: "1.5 GB"} {
		if got := analysis.Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := analysis.Command("/bin/sh -c #(nop)  COPY file:abc in /app "); got != "COPY file:abc in /app" {
		t.Errorf("Command: %q", got)
	}
}

// TestUnsafeNamesRefusedInEveryMode: a report whose layer 2 holds names
// that left the root is refused under audit as under enforce, naming the
// layer and the count — unless the rule allows unsafe paths.
func TestUnsafeNamesRefusedInEveryMode(t *testing.T) {
	r := wasteful()
	r.Layers = []layers.LayerReport{{}, {Unsafe: 2}, {Unsafe: 1}}
	want := `layer 2 holds 3 entries whose names leave the image's root ("..") or hold a NUL byte: a tool that extracts it without rooting names would write outside its directory; build the layer from relative paths (analysis.allowunsafepaths lets such layers through)`
	for _, mode := range []analysis.Mode{analysis.Audit, analysis.Enforce} {
		v := analysis.Rule{Repositories: "**", Mode: mode}.Evaluate(r)
		if !v.Block || v.Outcome != string(mode)+":block" || v.Message != want ||
			len(v.Violations) != 1 || v.Violations[0].Rule != "unsafepaths" || v.Violations[0].Actual != 3 {
			t.Fatalf("%s: %+v", mode, v)
		}
	}
	if v := (analysis.Rule{Repositories: "**", Mode: analysis.Audit, AllowUnsafePaths: true}).Evaluate(r); v.Block || v.Outcome != "audit:pass" {
		t.Fatalf("allowed: %+v", v)
	}
}
