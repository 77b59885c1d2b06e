package ui

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/imagegate/imagegate/scan/scantest"
)

// testFindings: the image page's filter form (a GET form) narrows the
// findings by severity, fix and allowlist, and the allowlist column says
// until when an entry allows a finding, or that it expired.
func testFindings(t *testing.T, b *browser, f *fixture) {
	base := f.srv.URL
	page := base + "/ui/image?name=" + teamRepo + "&digest=" + f.vulnerable.String()
	tb := b.newTab(t)
	tb.signIn(base, "alice", users["alice"])
	tb.open(page)
	all := len(scantest.VulnerableFindings())
	if n := tb.count("table.findings tbody tr"); n != all {
		t.Fatalf("%d finding rows unfiltered, want the fixture's %d", n, all)
	}
	findings := tb.text("table.findings")
	if !strings.Contains(findings, "allowlisted until "+allowedUntil) || !strings.Contains(findings, "allowlist expired 2020-01-01") {
		t.Errorf("findings %q lack the allowlist's expiries", findings)
	}
	filter := func(severity, fix, allowlist string) []string {
		tb.t.Helper()
		tb.open(page)
		tb.run(
			chromedp.SetValue(chromedp.CSS("#f-severity"), severity),
			chromedp.SetValue(chromedp.CSS("#f-fix"), fix),
			chromedp.SetValue(chromedp.CSS("#f-allowlist"), allowlist),
		)
		if status := tb.follow(chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`))); status != http.StatusOK {
			t.Fatalf("filtering: %d", status)
		}
		return get(tb, chromedp.Evaluate[[]string](`[...document.querySelectorAll("table.findings tbody tr td:nth-child(2)")].map(td => td.textContent)`))
	}
	for _, c := range []struct {
		severity, fix, allowlist string
		want                     []string
	}{
		{"HIGH", "", "", []string{scantest.CVEHigh, scantest.CVEHighUnfixed}},
		{"", "unfixed", "", []string{scantest.CVEHighUnfixed}},
		{"HIGH", "fixed", "", []string{scantest.CVEHigh}},
		{"", "", "yes", []string{scantest.CVEHigh}}, // the expired entry allows nothing
		{"", "", "no", []string{scantest.CVECritical, scantest.CVEHighUnfixed, scantest.CVEMedium, scantest.CVELow}},
	} {
		got := filter(c.severity, c.fix, c.allowlist)
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("severity=%q fix=%q allowlist=%q: rows %q, want %q", c.severity, c.fix, c.allowlist, got, c.want)
		}
		for key, v := range map[string]string{"severity": c.severity, "fix": c.fix, "allowlist": c.allowlist} {
			if loc := tb.location(); v != "" && !strings.Contains(loc, key+"="+v) {
				t.Errorf("the filter's %s=%s is not in the URL: %s", key, v, loc)
			}
		}
	}
	tb.open(page + "&severity=HIGH&allowlist=yes")
	if n := tb.text("#findings-count"); n != "1 of 5 finding(s) shown." {
		t.Errorf("count line %q", n)
	}
	tb.shot("image-findings-filtered")
	if status := tb.visit(page + "&severity=SEVERE"); status != http.StatusBadRequest {
		t.Errorf("an unknown severity: %d, want 400", status)
	}
}

// testReferrers: the image page lists the SBOM pushed with the image as
// its subject (artifact type, digest, size, when and by whom); the API
// refuses the listing to carol, who may not pull the repository.
func testReferrers(t *testing.T, b *browser, f *fixture) {
	base := f.srv.URL
	tb := b.newTab(t)
	tb.signIn(base, "bob", users["bob"])
	tb.open(base + "/ui/image?name=" + teamRepo + "&digest=" + f.vulnerable.String())
	if n := tb.count("table.referrers tbody tr"); n != 1 {
		t.Fatalf("%d referrer rows, want the SBOM's 1: %s", n, tb.text("main"))
	}
	row := tb.text("table.referrers tbody tr")
	for _, want := range []string{sbomType, f.sbom.Hex[:12], "by alice"} {
		if !strings.Contains(row, want) {
			t.Errorf("referrer row %q lacks %q", row, want)
		}
	}
	tb.shot("image-referrers")
	// The SBOM's own page has no referrers.
	tb.follow(chromedp.Click(chromedp.CSS(`table.referrers a`)))
	if n := tb.text("#referrers-h + p"); !strings.Contains(n, "No signature, SBOM or attestation") {
		t.Errorf("the SBOM's page says %q about its referrers", n)
	}
	api := base + "/api/v1/repositories/" + teamRepo + "/manifests/" + f.vulnerable.String() + "/referrers"
	for user, want := range map[string]int{"carol": http.StatusForbidden, "bob": http.StatusOK} {
		req, _ := http.NewRequest(http.MethodGet, api, nil)
		req.SetBasicAuth(user, users[user])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != want || (want != http.StatusOK) == strings.Contains(body, f.sbom.Hex) {
			t.Errorf("%s GET referrers: %d, want %d (the SBOM's digest shown only then): %s", user, resp.StatusCode, want, excerpt(body))
		}
	}
}

// testPushesByUser: /ui/pushes shows a person's own pushes across
// repositories with where each is stored; an administrator may name
// anyone, anyone else only themselves.
func testPushesByUser(t *testing.T, b *browser, f *fixture) {
	base := f.srv.URL
	tb := b.newTab(t)
	tb.signIn(base, "alice", users["alice"])
	tb.follow(chromedp.Click(chromedp.CSS(`header nav a[href="/ui/pushes"]`)))
	if h := tb.text("main h1"); h != "Pushes by alice" {
		t.Errorf("alice's pushes page is titled %q", h)
	}
	hist := tb.text("table.history")
	for _, want := range []string{teamRepo, privateRepo, f.vulnerable.Hex[:12], "filesystem:"} {
		if !strings.Contains(hist, want) {
			t.Errorf("alice's pushes %q lack %q", hist, want)
		}
	}
	tb.shot("pushes-alice")

	bob := b.newTab(t)
	bob.signIn(base, "bob", users["bob"])
	bob.open(base + "/ui/pushes")
	if n := bob.count("table.history tbody tr"); n != 0 {
		t.Errorf("bob, who pushed nothing, sees %d push rows", n)
	}
	if status := bob.visit(base + "/ui/pushes?user=alice"); status != http.StatusNotFound {
		t.Errorf("bob asking for alice's pushes: %d, want 404", status)
	}
	if main := bob.text("main"); strings.Contains(main, privateRepo) {
		t.Errorf("bob sees alice's private pushes: %q", main)
	}

	root := b.newTab(t)
	root.signIn(base, "root", users["root"])
	root.open(base + "/ui/pushes")
	root.run(chromedp.SetValue(chromedp.CSS(`form.filters input[name=user]`), "alice"))
	root.follow(chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)))
	if hist := root.text("table.history"); !strings.Contains(hist, privateRepo) || !strings.Contains(hist, teamRepo) {
		t.Errorf("root's view of alice's pushes %q lacks her repositories", hist)
	}
	root.shot("pushes-admin")
}

// readAll reads and closes resp's body.
func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
