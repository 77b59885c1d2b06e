package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// Where the suite's reports go.
const (
	// envOut: where junit.xml, report.html, results.yaml and the suite's
	// output are copied; relative paths are taken from the repository root.
	envOut     = "IMAGEGATE_CONFORMANCE_OUT"
	defaultOut = "build/conformance"
)

// ServerEnv is what every imagegate under the suite gets: foreign layers are
// accepted (the suite pushes non-distributable layers; the policy allows
// them here).
//
// The suite's test data (this pinned version, testdata.go genLayer) claims
// sha256("") as the diff_id of every layer it makes: the uncompressed
// buffer it hashes is never written. A registry that verifies diff_ids
// refuses every such image, so these runs turn the check off; the check
// itself is tested in registry (TestGateVerifiesDiffIDs) and test/gate.
var ServerEnv = []string{"IMAGEGATE_VALIDATION_FOREIGNLAYERS=true", "IMAGEGATE_VALIDATION_VERIFYDIFFIDS=false"}

const suiteTimeout = 5 * time.Minute // a full run takes about 10s

// suiteSettings configures the suite: every workflow and data set on.
// OCI_VERSION, OCI_REGISTRY and OCI_RESULTS_DIR are added per run.
var suiteSettings = []string{
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

// Versions are the spec versions every configuration is checked at: 1.1,
// and dev (1.1 plus upload cancel, required digest headers and tag
// parameters on manifest pushes).
var Versions = []string{"1.1", "dev"}

// profileDisabled are the test cases a version's profile itself turns off
// (the suite reports them Disabled): upload cancel is not part of 1.1. The
// dev run runs them. Any other skipped case fails the test.
var profileDisabled = map[string][]string{
	"1.1": {
		"OCI Conformance Test/sha256 blobs/post cancel/blob-post-cancel",
		"OCI Conformance Test/sha512 blobs/post cancel/blob-post-cancel",
	},
}

// TestConformance runs the OCI distribution-spec conformance suite against
// freshly started imagegate binaries, one per run, at every version of
// versions:
//
//   - embedded (filesystem + bbolt), auth off ("open");
//   - embedded, auth on, the suite logging in (OCI_USERNAME, OCI_PASSWORD)
//     as a user bound admin on every repository;
//   - S3 (SeaweedFS) + DynamoDB (DynamoDB Local), auth on, with a new bucket
//     and table; it needs IMAGEGATE_TEST_S3_ENDPOINT and
//     IMAGEGATE_TEST_DYNAMODB_ENDPOINT (skipped without them, failing under
//     IMAGEGATE_TEST_REQUIRE_ALL=1).
//
// Each run must fail no check and skip none but the ones its version's
// profile disables (profileDisabled); every failed or skipped case is
// reported by name with the suite's message. The suite's reports land in
// $IMAGEGATE_CONFORMANCE_OUT/<backend>/<mode>/<version>/.
//
// With envRegistry set (scripts/conformance-baseline.sh) only one run
// happens, at 1.1 against that registry, held to distribution v3.1.2's
// outcome is what one run of the suite achieved.
type outcome struct {
	sum summary
	rep junitReport
}

// runSuiteReported runs the suite at version against registry with
// extraEnv added to its settings, copies its reports to outDir, logs "N
// passed, N failed, N skipped", and checks that it printed a summary and
// wrote a junit report that agree. It returns nil (the test has failed)
// when the run cannot be judged.
func runSuiteReported(t *testing.T, suite, registry, version, outDir string, extraEnv []string) *outcome {
	t.Helper()
	resultsDir := t.TempDir()
	stdout, stderr := runSuite(t, suite, registry, resultsDir, append([]string{"OCI_VERSION=" + version}, extraEnv...))
	copyArtifacts(t, resultsDir, outDir, stdout, stderr)

	sum, err := parseSummary(stdout)
	if err != nil {
		t.Fatalf("%v\nsuite stderr (tail):\n%s", err, lastLines(stderr, 30))
	}
	// scripts/conformance-baseline.sh reads "conformance: N passed, N failed, N skipped".
	t.Logf("conformance: %d passed, %d failed, %d skipped (OCI_VERSION=%s); reports in %s", sum.Passed, sum.Failed, sum.Skipped, version, outDir)

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
	return &outcome{sum: sum, rep: rep}
}

// judge fails the test for every failed check and for every skipped one
// that version's profile does not disable, naming each.
func judge(t *testing.T, version string, o *outcome) {
	t.Helper()
	if failed := o.rep.casesWith("failure", "error"); len(failed) > 0 || o.sum.Failed > 0 {
		t.Errorf("OCI_VERSION=%s: %d checks failed, in %d test cases:\n  %s",
			version, o.sum.Failed, len(failed), strings.Join(failed, "\n  "))
	}
	var skipped []string
	allowed := tally(profileDisabled[version])
	for _, c := range o.rep.Cases {
		if c.Status != "skipped" {
			continue
		}
		if allowed[c.Name] > 0 {
			allowed[c.Name]--
			continue
		}
		skipped = append(skipped, c.describe())
	}
	if len(skipped) > 0 || o.sum.Skipped > len(profileDisabled[version]) {
		t.Errorf("OCI_VERSION=%s: %d checks skipped (%d allowed: disabled by the profile); test cases:\n  %s",
			version, o.sum.Skipped, len(profileDisabled[version]), strings.Join(skipped, "\n  "))
	}
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
		t.Logf("conformance suite exited %d after %v (it exits 1 when a check fails)",
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

// Check runs the suite at version against the registry at host:port
// registry, with extraEnv added to its settings (OCI_USERNAME and
// OCI_PASSWORD when auth is on), copies its reports to
// $IMAGEGATE_CONFORMANCE_OUT/sub (build/conformance/sub by default), and
// fails t for every failed check and for every skipped one that version's
// profile does not disable, naming each. The registry must run with
// ServerEnv's settings.
func Check(t *testing.T, suite, registry, version, sub string, extraEnv []string) {
	t.Helper()
	outDir := outputDir(t, liveserver.RepoRoot(t), sub)
	if o := runSuiteReported(t, suite, registry, version, outDir, extraEnv); o != nil {
		judge(t, version, o)
	}
}
