package ui

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// loadAxe reads axe-core's script from IMAGEGATE_AXE (scripts/axe.sh
// install); "" when unset: the accessibility check is skipped, or the test
// fails under IMAGEGATE_TEST_REQUIRE_ALL=1.
func loadAxe(t *testing.T) string {
	t.Helper()
	path := os.Getenv("IMAGEGATE_AXE")
	if path == "" {
		if os.Getenv("IMAGEGATE_TEST_REQUIRE_ALL") == "1" {
			t.Fatal("IMAGEGATE_AXE is unset: run scripts/axe.sh install")
		}
		t.Log("IMAGEGATE_AXE unset: pages are not checked for accessibility (scripts/axe.sh install)")
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	return string(b)
}

// axeViolation is one rule axe-core found broken, with the elements.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeRun runs axe-core on the page (WCAG 2.x A and AA rules and best
// practices) and answers its serious and critical violations as JSON.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(
  r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" "))}))))`

// checkAccessibility injects axe-core into the page (through the
// DevTools protocol: the page's CSP allows no such script) and fails the
// test on any serious or critical violation.
func (tb *tab) checkAccessibility(page string) {
	tb.t.Helper()
	if tb.b.axe == "" {
		return
	}
	if ok := get(tb, chromedp.Evaluate[bool](`typeof axe === "object"`)); !ok {
		get(tb, chromedp.Evaluate[any](tb.b.axe+"\n;undefined", chromedp.EvalAsValue))
	}
	out := get(tb, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	var found []axeViolation
	if err := json.Unmarshal([]byte(out), &found); err != nil {
		tb.t.Fatalf("axe-core on %s: %v", page, err)
	}
	for _, v := range found {
		tb.t.Errorf("accessibility of %s: %s (%s): %s at %s", page, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, ", "))
	}
	tb.b.mu.Lock()
	tb.b.checked = append(tb.b.checked, fmt.Sprintf("%s(%d)", page, len(found)))
	tb.b.mu.Unlock()
}
