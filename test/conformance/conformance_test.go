package conformance

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// Environment read by TestConformance.
const (
	// envImagegateBin: the imagegate binary under test (required unless
	// envRegistry is set).
	envImagegateBin = "IMAGEGATE_BIN"
	// envSuiteBin: the conformance suite binary, from scripts/build-conformance.sh.
	envSuiteBin = "OCI_CONFORMANCE_BIN"
	// envRegistry: host:port of an already running registry to test instead
	// of starting imagegate; scripts/conformance-baseline.sh points it at
	// distribution's own registry.
	envRegistry = "IMAGEGATE_CONFORMANCE_REGISTRY"
)

const (
	// minPassed is what plain distribution v3.1.2 passes with these settings
	// (baselineFile lists the checks): the bar for an external registry.
	minPassed    = 743
	baselineFile = "baseline-v3.1.2-passed.txt"
)

var writeBaselineTo = flag.String("write-baseline", "",
	"write the passed checks to this file instead of comparing them with "+baselineFile)

// baseline instead (at least minPassed checks, every baseline check).
func TestConformance(t *testing.T) {
	suite := liveserver.RequireBinary(t, envSuiteBin)
	if external := os.Getenv(envRegistry); external != "" {
		testExternal(t, suite, external)
		return
	}
	bin := liveserver.RequireBinary(t, envImagegateBin)
	root := liveserver.RepoRoot(t)
	for _, c := range []struct {
		backend backend
		auth    bool
	}{{embedded, false}, {embedded, true}, {s3DynamoDB, true}} {
		mode := "open"
		if c.auth {
			mode = "auth"
		}
		t.Run(c.backend.name+"/"+mode, func(t *testing.T) {
			t.Parallel()
			for _, version := range Versions {
				t.Run(version, func(t *testing.T) {
					registry, creds := startImagegate(t, bin, c.backend, c.auth)
					outDir := outputDir(t, root, filepath.Join(c.backend.name, mode, version))
					o := runSuiteReported(t, suite, registry, version, outDir, creds)
					if o != nil {
						judge(t, version, o)
					}
				})
			}
		})
	}
}

// testExternal runs the suite at 1.1 against an external registry and
// compares it with the baseline, or writes the baseline (-write-baseline).
func testExternal(t *testing.T, suite, registry string) {
	outDir := outputDir(t, liveserver.RepoRoot(t), "")
	o := runSuiteReported(t, suite, registry, "1.1", outDir, nil)
	if o == nil {
		return
	}
	passed := o.rep.passedNames()
	if *writeBaselineTo != "" {
		if err := writeBaseline(*writeBaselineTo, passed); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d passed test cases to %s", len(passed), *writeBaselineTo)
		return
	}
	if o.sum.Passed < minPassed {
		t.Errorf("passed %d checks, want at least %d (distribution v3.1.2)", o.sum.Passed, minPassed)
	}
	baseline, err := readBaseline(baselineFile)
	if err != nil {
		t.Fatal(err)
	}
	if reg := regressions(baseline, passed); len(reg) > 0 {
		t.Errorf("%d checks that distribution v3.1.2 passes did not pass (details in %s/report.html):\n  %s",
			len(reg), outDir, strings.Join(reg, "\n  "))
	}
}
