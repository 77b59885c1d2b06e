package conformance

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// summary is the suite's own tally of checks, as printed on stdout. A junit
// testcase can count several checks, so these numbers exceed the testcase
// count (852 checks in 690 testcases for distribution v3.1.2).
type summary struct {
	Passed  int // "Pass"
	Failed  int // "FAIL" + "Error"
	Skipped int // "Skip" + "Disabled", as the suite's report.html adds them up
	Total   int
}

// errNoSummary means the suite printed no result block: it exits 0 without
// one on a configuration error, so its exit code alone proves nothing.
var errNoSummary = errors.New("conformance suite printed no summary (configuration error?)")

var summaryLine = regexp.MustCompile(`^\s+(Disabled|Skip|Pass|FAIL|Error|Total)\.*:\s+(\d+)\s*$`)

// parseSummary reads the block that follows "OCI Conformance Result:" in the
// suite's stdout. It fails with errNoSummary when the block is missing or
// incomplete, and when its Total disagrees with its parts.
func parseSummary(stdout []byte) (summary, error) {
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	inBlock := false
	counts := map[string]int{}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "OCI Conformance Result:") {
			inBlock = true
			continue
		}
		if !inBlock {
			continue
		}
		m := summaryLine.FindStringSubmatch(line)
		if m == nil {
			break // the block ends at the first other line
		}
		n, err := strconv.Atoi(m[2])
		if err != nil {
			return summary{}, fmt.Errorf("summary line %q: %w", line, err)
		}
		counts[m[1]] = n
	}
	if err := sc.Err(); err != nil {
		return summary{}, fmt.Errorf("read suite output: %w", err)
	}
	for _, k := range []string{"Disabled", "Skip", "Pass", "FAIL", "Error", "Total"} {
		if _, ok := counts[k]; !ok {
			return summary{}, fmt.Errorf("%w: no %q count", errNoSummary, k)
		}
	}
	s := summary{
		Passed:  counts["Pass"],
		Failed:  counts["FAIL"] + counts["Error"],
		Skipped: counts["Skip"] + counts["Disabled"],
		Total:   counts["Total"],
	}
	if s.Passed+s.Failed+s.Skipped != s.Total {
		return s, fmt.Errorf("summary parts %+v do not add up to its total", s)
	}
	return s, nil
}

// junitReport is the part of the suite's junit.xml that the test reads.
type junitReport struct {
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Disabled int         `xml:"disabled,attr"`
	Cases    []junitCase `xml:"testsuite>testcase"`
}

// junitCase is one leaf test of the suite. Names are not unique: the suite
// runs some checks once per blob or manifest of a data set under one name,
// in map order, so only the number of passes per name is stable.
type junitCase struct {
	Name   string `xml:"name,attr"`
	Status string `xml:"status,attr"` // passed, skipped, failure or error
	Out    string `xml:"system-out"`  // the suite's messages about the case
}

// describe is the case's name and the first line of the suite's message.
func (c junitCase) describe() string {
	msg, _, _ := strings.Cut(strings.TrimSpace(c.Out), "\n")
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	if msg == "" {
		return c.Name
	}
	return c.Name + ": " + msg
}

// casesWith describes (see junitCase.describe) the cases whose status is
// one of statuses, in report order.
func (r junitReport) casesWith(statuses ...string) []string {
	var out []string
	for _, c := range r.Cases {
		if slices.Contains(statuses, c.Status) {
			out = append(out, c.describe())
		}
	}
	return out
}

// parseJUnit decodes the suite's junit.xml and checks it has test cases.
func parseJUnit(r io.Reader) (junitReport, error) {
	var rep junitReport
	if err := xml.NewDecoder(r).Decode(&rep); err != nil {
		return rep, fmt.Errorf("decode junit: %w", err)
	}
	if len(rep.Cases) == 0 {
		return rep, errors.New("junit has no test cases")
	}
	return rep, nil
}

// summary derives the check counts from the junit header attributes; they
// must match what the suite printed.
func (r junitReport) summary() summary {
	return summary{
		Passed:  r.Tests - r.Failures - r.Errors - r.Skipped - r.Disabled,
		Failed:  r.Failures + r.Errors,
		Skipped: r.Skipped + r.Disabled,
		Total:   r.Tests,
	}
}

// passedNames returns the names of the passed test cases, sorted, one entry
// per passed case (so a name repeats when several cases of that name passed).
func (r junitReport) passedNames() []string {
	var out []string
	for _, c := range r.Cases {
		if c.Status == "passed" {
			out = append(out, c.Name)
		}
	}
	slices.Sort(out)
	return out
}

// regressions lists, sorted, every name that passed fewer times than in the
// baseline, as "NAME (passed k of the n baseline passes)".
func regressions(baseline, passed []string) []string {
	want, got := tally(baseline), tally(passed)
	var out []string
	for name, n := range want {
		if got[name] < n {
			out = append(out, fmt.Sprintf("%s (passed %d of the %d baseline passes)", name, got[name], n))
		}
	}
	slices.Sort(out)
	return out
}

func tally(names []string) map[string]int {
	m := make(map[string]int, len(names))
	for _, n := range names {
		m[n]++
	}
	return m
}

// baselineHeader opens the baseline file; lines starting with "#" are comments.
const baselineHeader = `# Conformance checks that plain distribution v3.1.2 passes: the junit testcase
# names with status "passed" from the OCI distribution-spec conformance suite
# (pinned in scripts/build-conformance.sh) at OCI_VERSION=1.1 with every
# workflow on, as set in conformance_test.go. A name is listed once per passed
# testcase: the suite runs some checks once per blob or manifest under one
# name, in random order, so the number of passes per name is the stable fact.
# Regenerate with scripts/conformance-baseline.sh; do not edit by hand.
`

// readBaseline reads a baseline file: one name per line, "#" comments and
// blank lines ignored. An empty baseline is an error.
func readBaseline(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		names = append(names, line)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("baseline %s lists no checks", path)
	}
	return names, nil
}

// writeBaseline writes names (sorted by the caller) in readBaseline's format.
func writeBaseline(path string, names []string) error {
	var b strings.Builder
	b.WriteString(baselineHeader)
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	return nil
}
