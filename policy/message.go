package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/imagegate/imagegate/scan"
)

// namedFindings is how many findings a verdict's message names (the worst
// first): enough for `docker push` to show what to fix, short enough to
// read on one line.
const namedFindings = 3

// message explains v under r to the pusher: how many findings count
// against the threshold and under which policy, the worst of them by id
// and package, and what was not counted (unfixed under ignoreunfixed,
// allowlisted), so that the number agrees with the scan's counts.
func (r Rule) message(v Verdict) string {
	n := len(v.Violations)
	var b strings.Builder
	switch {
	case n == 0:
		fmt.Fprintf(&b, "no vulnerabilities at or above %s (policy %q)", r.Severity, r.Repositories)
	case r.Mode == Enforce:
		fmt.Fprintf(&b, "image has %d %s at or above %s (policy %q)", n, plural(n), r.Severity, r.Repositories)
	default:
		fmt.Fprintf(&b, "image has %d %s at or above %s (policy %q, audit only: enforce would refuse it)", n, plural(n), r.Severity, r.Repositories)
	}
	if n > 0 {
		b.WriteString(": " + name(worstFirst(v.Violations), namedFindings))
	}
	var skipped []string
	if k := len(v.Unfixed); k > 0 {
		skipped = append(skipped, fmt.Sprintf("%d without a fix (ignoreunfixed: %s)", k, idList(v.Unfixed, namedFindings)))
	}
	if k := len(v.Excepted); k > 0 {
		skipped = append(skipped, fmt.Sprintf("%d allowlisted (%s)", k, idList(v.Excepted, namedFindings)))
	}
	if len(skipped) > 0 {
		fmt.Fprintf(&b, "; not counted at or above %s: %s", r.Severity, strings.Join(skipped, ", "))
	}
	return b.String()
}

// worstFirst returns a copy of vs sorted by severity, highest first,
// keeping the scanner's order among equals.
func worstFirst(vs []scan.Vulnerability) []scan.Vulnerability {
	out := slices.Clone(vs)
	slices.SortStableFunc(out, func(a, b scan.Vulnerability) int { return cmp.Compare(b.Severity, a.Severity) })
	return out
}

// name lists the first k findings of vs as "ID (SEVERITY package
// version, fixed in V | no fix yet)", then how many more there are.
func name(vs []scan.Vulnerability, k int) string {
	parts := make([]string, 0, k+1)
	for i, f := range vs {
		if i == k {
			parts = append(parts, fmt.Sprintf("and %d more", len(vs)-k))
			break
		}
		fix := "no fix yet"
		if f.Fixed() {
			fix = "fixed in " + f.FixedVersion
		}
		what := strings.Join(slices.DeleteFunc([]string{f.Severity.String(), f.Package, f.InstalledVersion},
			func(s string) bool { return s == "" }), " ")
		parts = append(parts, fmt.Sprintf("%s (%s, %s)", f.ID, what, fix))
	}
	return strings.Join(parts, ", ")
}

// idList lists the ids of the first k findings of vs, then how many more.
func idList(vs []scan.Vulnerability, k int) string {
	out := make([]string, 0, k+1)
	for i, f := range vs {
		if i == k {
			out = append(out, fmt.Sprintf("%d more", len(vs)-k))
			break
		}
		out = append(out, f.ID)
	}
	return strings.Join(out, ", ")
}
