package ui

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/imagegate/imagegate/scan/scantest"
)

// testStatus: root opens the status page from the header and sees the
// DB version /readyz reports and the fixture's scan policies with their
// allowlist; alice has no link and gets the 403 page.
func testStatus(t *testing.T, b *browser, f *fixture) {
	base := f.srv.URL
	version := readyDBVersion(t, base)
	tb := b.newTab(t)
	tb.signIn(base, "root", users["root"])
	if status := tb.follow(chromedp.Click(chromedp.CSS(`header nav a[href="/ui/status"]`))); status != http.StatusOK {
		t.Fatalf("root opening the status page: %d: %s", status, tb.text("main"))
	}
	if got := tb.text("#db-version"); got != version {
		t.Errorf("the page's DB version %q, /readyz says %q", got, version)
	}
	if got := tb.text("#readiness"); got != "ready" && got != "degraded" {
		t.Errorf("readiness %q", got)
	}
	policies := tb.text("#scan-policies")
	for _, want := range []string{strictRepo, "enforce", "HIGH", "reject", "audit", scantest.CVEHigh, allowedUntil,
		scantest.CVEMedium, "expired 2020-01-01", "the busybox applet is not installed"} {
		if !strings.Contains(policies, want) {
			t.Errorf("the scan policies %q lack %q", policies, want)
		}
	}
	// The fixture's pushes were sent to the receiver: each event's first
	// attempt refused (503), the second delivered (204).
	select {
	case <-f.hooks.delivered:
	case <-time.After(actionTimeout):
		t.Fatal("no webhook delivered within the action timeout")
	}
	// The notifier records an attempt once it has the receiver's answer:
	// reload (bounded) until the page shows the delivery.
	sel := `table.recent[data-endpoint="` + hookName + `"]`
	var recent string
	for range 100 {
		tb.open(base + "/ui/status")
		if tb.count(sel) == 1 {
			if recent = tb.text(sel); strings.Contains(recent, "delivered") {
				break
			}
		}
	}
	for _, want := range []string{"push.accepted", "delivered", "204", "retry", "503", "warming up", " ms"} {
		if !strings.Contains(recent, want) {
			t.Errorf("the recent deliveries %q lack %q", recent, want)
		}
	}
	// Every attempt took some time: a fast answer (loopback, often under a
	// millisecond) reads as a fraction of one, never "0 ms".
	durations := get(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll('`+sel+` tbody td:nth-child(5)')].map(td => td.textContent)`))
	if len(durations) == 0 || slices.Contains(durations, "0 ms") {
		t.Errorf("delivery durations %q: want one per attempt, none \"0 ms\"", durations)
	}
	t.Logf("delivery durations shown: %q", durations)
	if hooks := tb.text("#webhooks"); strings.Contains(hooks, "not-shown") || strings.Contains(hooks, "/hooks/") {
		t.Errorf("the webhook list shows the URL's path or query: %q", hooks)
	}
	tb.shot("status")
	tb.run(chromedp.EmulateViewport(390, 844))
	if overflow := get(tb, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); overflow {
		t.Errorf("the status page scrolls sideways at phone width")
	}
	tb.shot("status-phone")

	adminOnly(t, b, base, "/ui/status", "Status", scantest.CVEHigh)
}

// readyDBVersion is the scanner DB version the public /readyz reports.
func readyDBVersion(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Info struct {
			Scanner struct {
				Version string `json:"db_version"`
			} `json:"scanner"`
		} `json:"info"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Info.Scanner.Version == "" {
		t.Fatalf("/readyz: %v, no DB version", err)
	}
	return body.Info.Scanner.Version
}

// adminOnly checks that alice, a developer, has no header link named
// link and gets the 403 "Administrators only" page at path, without
// hidden in it; it returns her tab.
func adminOnly(t *testing.T, b *browser, base, path, link, hidden string) *tab {
	t.Helper()
	alice := b.newTab(t)
	alice.signIn(base, "alice", users["alice"])
	if nav := alice.text("header nav"); strings.Contains(nav, link) {
		t.Errorf("alice's header %q links %s", nav, path)
	}
	if status := alice.visit(base + path); status != http.StatusForbidden {
		t.Errorf("alice opening %s: %d, want 403", path, status)
	}
	if h, main := alice.text("main h1"), alice.text("main"); h != "Administrators only" || strings.Contains(main, hidden) {
		t.Errorf("alice at %s sees %q: %q", path, h, main)
	}
	return alice
}
