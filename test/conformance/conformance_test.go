package conformance

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// Environment read by TestConformance.
const (
	// envImagegateBin: the imagegate binary under test (required unless
	// envRegistry is set).
	envImagegateBin = "IMAGEGATE_BIN"
	// envSuiteBin: the conformance suite binary, from scripts/build-conformance.sh.
	envSuiteBin = "OCI_CONFORMANCE_BIN"
	// envOut: where junit.xml, report.html, results.yaml and the suite's
	// output are copied; relative paths are taken from the repository root.
	envOut     = "IMAGEGATE_CONFORMANCE_OUT"
	defaultOut = "build/conformance"
	// envRegistry: host:port of an already running registry to test instead
	// of starting imagegate; scripts/conformance-baseline.sh points it at
	// distribution's own registry.
	envRegistry = "IMAGEGATE_CONFORMANCE_REGISTRY"
)

const (
	// minPassed is what plain distribution v3.1.2 passes with these settings;
	// imagegate must not do worse.
	minPassed    = 743
	baselineFile = "baseline-v3.1.2-passed.txt"
	suiteTimeout = 5 * time.Minute // a full run takes about 10s
)

var writeBaselineTo = flag.String("write-baseline", "",
	"write the passed checks to this file instead of comparing them with "+baselineFile)

// suiteSettings configures the suite: spec 1.1 with every workflow on. The
// 1.1+dev-only APIs (upload cancel, digest headers, tag parameters) keep
// their 1.1 default, off, like the baseline. OCI_REGISTRY and
// OCI_RESULTS_DIR are added per run.
var suiteSettings = []string{
	"OCI_VERSION=1.1",
	"OCI_CONFIGURATION=/dev/null", // never read a stray oci-conformance.yaml
	"OCI_TLS=disabled",
	"OCI_REPO1=conformance/repo1",
	"OCI_REPO2=conformance/repo2",
	"OCI_LOG=warn",
	"OCI_API_PULL=true",
	"OCI_API_PUSH=true",
	"OCI_API_TAGS_LIST=true",
	"OCI_API_TAGS_DELETE=true",
	"OCI_API_TAGS_ATOMIC=true",
	"OCI_API_MANIFESTS_DELETE=true",
	"OCI_API_MANIFESTS_ATOMIC=true",
	"OCI_API_BLOBS_DELETE=true",
	"OCI_API_BLOBS_ATOMIC=true",
	"OCI_API_BLOBS_MOUNT_ANONYMOUS=true",
	"OCI_API_REFERRER=true",
}

// TestConformance runs the OCI distribution-spec conformance suite twice,
// side by side, each against its own freshly started imagegate: "open" with
// auth off, and "auth" with auth on, the suite logging in (OCI_USERNAME,
// OCI_PASSWORD) as a user bound admin on every repository. Each run fails
// when it passes fewer than minPassed checks, when any check of the
// baseline no longer passes, or when the suite produced no summary or junit
// report; the suite's own non-zero exit (it has known failures) is not a
// failure here. Then the auth run must pass every check the open run passed,
// and as many: turning auth on may cost no conformance.
//
// With envRegistry set (scripts/conformance-baseline.sh) only the open run
// runs, against that registry.
func TestConformance(t *testing.T) {
	suite := liveserver.RequireBinary(t, envSuiteBin)
	external := os.Getenv(envRegistry)
	var bin string
	if external == "" {
		bin = liveserver.RequireBinary(t, envImagegateBin)
	}
	outDir := outputDir(t, repoRoot(t), "")

	var open, withAuth *outcome
	t.Run("runs", func(t *testing.T) {
		t.Run("open", func(t *testing.T) {
			t.Parallel()
			registry := external
			if registry == "" {
				registry = liveserver.Start(t, bin).Addr
			}
			o := runChecked(t, "conformance", suite, registry, outDir, nil)
			if *writeBaselineTo != "" {
				if err := writeBaseline(*writeBaselineTo, o.passed); err != nil {
					t.Fatal(err)
				}
				t.Logf("wrote %d passed test cases to %s", len(o.passed), *writeBaselineTo)
			}
			open = o
		})
		t.Run("auth", func(t *testing.T) {
			if external != "" {
				t.Skipf("%s is set: the registry under test is not imagegate", envRegistry)
			}
			t.Parallel()
			registry, creds := startWithAuth(t, bin)
			withAuth = runChecked(t, "conformance (auth)", suite, registry, outputDir(t, repoRoot(t), "auth"), creds)
		})
	})
	if open == nil || withAuth == nil {
		return // a run failed (reported) or was skipped
	}
	if withAuth.sum.Passed < open.sum.Passed {
		t.Errorf("with auth on, passed %d checks; with auth off, %d", withAuth.sum.Passed, open.sum.Passed)
	}
	if reg := regressions(open.passed, withAuth.passed); len(reg) > 0 {
		t.Errorf("%d checks that pass with auth off did not pass with auth on (details in %s/auth/report.html):\n  %s",
			len(reg), outDir, strings.Join(reg, "\n  "))
	}
}

// outcome is what one run of the suite achieved.
type outcome struct {
	sum    summary
	passed []string // junit names of the passed test cases, sorted
}

// runChecked runs the suite against registry with extraEnv added to its
// settings, copies its reports to outDir, logs "LABEL: N passed, N failed,
// N skipped", and checks the run: a summary and a junit report that agree,
// at least minPassed checks passed, and every baseline check passed (unless
// -write-baseline is given). It returns nil when the run cannot be judged.
func runChecked(t *testing.T, label, suite, registry, outDir string, extraEnv []string) *outcome {
	t.Helper()
	resultsDir := t.TempDir()
	stdout, stderr := runSuite(t, suite, registry, resultsDir, extraEnv)
	copyArtifacts(t, resultsDir, outDir, stdout, stderr)

	sum, err := parseSummary(stdout)
	if err != nil {
		t.Fatalf("%v\nsuite stderr (tail):\n%s", err, lastLines(stderr, 30))
	}
	t.Logf("%s: %d passed, %d failed, %d skipped", label, sum.Passed, sum.Failed, sum.Skipped)
	t.Logf("reports in %s", outDir)

	junit, err := os.Open(filepath.Join(resultsDir, "junit.xml"))
	if err != nil {
		t.Fatalf("suite wrote no junit report: %v", err)
	}
	rep, err := parseJUnit(junit)
	_ = junit.Close()
	if err != nil {
		t.Fatalf("junit.xml: %v", err)
	}
	if js := rep.summary(); js != sum {
		t.Errorf("junit counts %+v differ from the printed summary %+v", js, sum)
	}
	if sum.Passed < minPassed {
		t.Errorf("passed %d checks, want at least %d (distribution v3.1.2)", sum.Passed, minPassed)
	}
	o := &outcome{sum: sum, passed: rep.passedNames()}
	if *writeBaselineTo != "" {
		return o
	}
	baseline, err := readBaseline(baselineFile)
	if err != nil {
		t.Fatal(err)
	}
	if reg := regressions(baseline, o.passed); len(reg) > 0 {
		t.Errorf("%d checks that distribution v3.1.2 passes did not pass (details in %s/report.html):\n  %s",
			len(reg), outDir, strings.Join(reg, "\n  "))
	}
	return o
}

// runSuite runs the suite against registry, writing reports to resultsDir,
// and returns its stdout and stderr. The suite's environment is the test's
// without any OCI_* variable, plus suiteSettings, plus extraEnv. Only a failure to run it at
// all (or a timeout) fails the test; its exit status is logged.
func runSuite(t *testing.T, suite, registry, resultsDir string, extraEnv []string) (stdout, stderr []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), suiteTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, suite)
	cmd.Dir = t.TempDir()
	cmd.WaitDelay = 10 * time.Second
	cmd.Env = append(environWithout("OCI_"), suiteSettings...)
	cmd.Env = append(cmd.Env, "OCI_REGISTRY="+registry, "OCI_RESULTS_DIR="+resultsDir)
	cmd.Env = append(cmd.Env, extraEnv...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut

	start := time.Now()
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("conformance suite did not finish within %v\nstderr (tail):\n%s", suiteTimeout, lastLines(errOut.Bytes(), 30))
	case errors.As(err, &exitErr):
		t.Logf("conformance suite exited %d after %v (non-zero is expected: it has known failures)",
			exitErr.ExitCode(), time.Since(start).Round(time.Millisecond))
	case err != nil:
		t.Fatalf("run conformance suite %s: %v", suite, err)
	default:
		t.Logf("conformance suite exited 0 after %v", time.Since(start).Round(time.Millisecond))
	}
	return out.Bytes(), errOut.Bytes()
}

// copyArtifacts copies the suite's reports and output into outDir, so they
// survive the test's temporary directories. A report the suite did not write
// is removed from outDir, so no stale report from an earlier run is left
// there; the checks after this one fail the test for it.
func copyArtifacts(t *testing.T, resultsDir, outDir string, stdout, stderr []byte) {
	t.Helper()
	for _, name := range []string{"junit.xml", "report.html", "results.yaml"} {
		b, err := os.ReadFile(filepath.Join(resultsDir, name))
		if errors.Is(err, os.ErrNotExist) {
			if err := os.Remove(filepath.Join(outDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("remove stale %s: %v", name, err)
			}
			continue
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(outDir, name), b, 0o644)
		}
		if err != nil {
			t.Errorf("copy %s to %s: %v", name, outDir, err)
		}
	}
	output := fmt.Sprintf("== stdout ==\n%s\n== stderr ==\n%s", stdout, stderr)
	if err := os.WriteFile(filepath.Join(outDir, "output.txt"), []byte(output), 0o644); err != nil {
		t.Errorf("write suite output to %s: %v", outDir, err)
	}
}

// outputDir creates and returns the directory for the reports: $envOut, or
// defaultOut, relative paths taken from the repository root; then sub, when
// not empty, below it.
func outputDir(t *testing.T, root, sub string) string {
	t.Helper()
	dir := os.Getenv(envOut)
	if dir == "" {
		dir = defaultOut
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	dir = filepath.Join(dir, sub)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("create report directory (%s): %v", envOut, err)
	}
	return dir
}

// repoRoot returns the nearest directory at or above the working directory
// (the package directory under go test) that holds go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// environWithout returns os.Environ() minus the variables starting with prefix.
func environWithout(prefix string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}

// lastLines returns the last n lines of b.
func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
