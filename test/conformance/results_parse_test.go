package conformance

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// These tests need no binaries: they pin how the suite's output is read.

const sampleSummary = `Test results
OCI Conformance Test: FAIL

OCI Conformance Result: FAIL
  Disabled......................:          2
  Skip..........................:         16
  Pass..........................:        743
  FAIL..........................:         91
  Error.........................:          0
  Total.........................:        852

API conformance:
  Tag listing...................:       FAIL
`

func TestParseSummary(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stdout  string
		want    summary
		wantErr error
	}{
		{"full", sampleSummary, summary{Passed: 743, Failed: 91, Skipped: 18, Total: 852}, nil},
		{"config error prints nothing", "", summary{}, errNoSummary},
		{"tree only", "Test results\nOCI Conformance Test: Pass\n", summary{}, errNoSummary},
		{"truncated", strings.Split(sampleSummary, "  FAIL")[0], summary{}, errNoSummary},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSummary([]byte(tc.stdout))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseSummaryRejectsBadTotal(t *testing.T) {
	bad := strings.Replace(sampleSummary, "852", "853", 1)
	if _, err := parseSummary([]byte(bad)); err == nil {
		t.Fatal("want an error for parts that do not add up")
	}
}

const sampleJUnit = `<testsuites time="1.0" tests="6" failures="1" skipped="1" disabled="1">
  <testsuite name="OCI Conformance Test" tests="6" failures="1" errors="0" disabled="1" skipped="1" time="1.0">
    <properties><property name="Config" value="x"></property></properties>
    <testcase name="T/ping" classname="" time="0.1" status="passed"></testcase>
    <testcase name="T/image/push/blob-post-put" classname="" status="passed"></testcase>
    <testcase name="T/image/push/blob-post-put" classname="" status="passed"></testcase>
    <testcase name="T/a&amp;b" classname="" status="passed"></testcase>
    <testcase name="T/referrers" classname="" status="failure"><system-out>404</system-out></testcase>
    <testcase name="T/post only" classname="" status="skipped"></testcase>
  </testsuite>
</testsuites>`

func TestParseJUnit(t *testing.T) {
	rep, err := parseJUnit(strings.NewReader(sampleJUnit))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.summary(), (summary{Passed: 3, Failed: 1, Skipped: 2, Total: 6}); got != want {
		t.Errorf("summary = %+v, want %+v", got, want)
	}
	want := []string{"T/a&b", "T/image/push/blob-post-put", "T/image/push/blob-post-put", "T/ping"}
	if got := rep.passedNames(); !slices.Equal(got, want) {
		t.Errorf("passedNames = %q, want %q", got, want)
	}
	if _, err := parseJUnit(strings.NewReader(`<testsuites tests="0"></testsuites>`)); err == nil {
		t.Error("want an error for a junit report without test cases")
	}
}

func TestRegressions(t *testing.T) {
	baseline := []string{"a", "b", "b", "c"}
	for _, tc := range []struct {
		name   string
		passed []string
		want   []string
	}{
		{"same", []string{"a", "b", "b", "c"}, nil},
		{"more passes are fine", []string{"a", "b", "b", "c", "d"}, nil},
		{"one of a repeated name lost", []string{"a", "b", "c"},
			[]string{"b (passed 1 of the 2 baseline passes)"}},
		{"gone", []string{"b", "b"},
			[]string{"a (passed 0 of the 1 baseline passes)", "c (passed 0 of the 1 baseline passes)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := regressions(baseline, tc.passed); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBaselineRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "baseline.txt")
	names := []string{"T/a", "T/b", "T/b"}
	if err := writeBaseline(path, names); err != nil {
		t.Fatal(err)
	}
	got, err := readBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, names) {
		t.Errorf("read %q, wrote %q", got, names)
	}
}

// TestCommittedBaseline checks the committed file is well formed: sorted,
// non-empty and consistent with minPassed (a testcase counts at least one
// check, so it cannot list more testcases than minPassed checks).
func TestCommittedBaseline(t *testing.T) {
	names, err := readBaseline(baselineFile)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(names) {
		t.Error("baseline is not sorted")
	}
	if len(names) > minPassed {
		t.Errorf("baseline lists %d passed testcases, more than minPassed=%d checks", len(names), minPassed)
	}
}
