package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/internal/testutil/outcomes"
	"github.com/imagegate/imagegate/scan/scantest"
	"github.com/imagegate/imagegate/ui"
)

// TestUI runs the browser tests against one server with the fixtures
// pushed and one Chromium; each subtest signs in its own people in fresh
// browser contexts.
func TestUI(t *testing.T) {
	bin := liveserver.RequireBinary(t, "IMAGEGATE_BIN")
	chromium := liveserver.RequireBinary(t, "IMAGEGATE_CHROMIUM")
	f := startServer(t, bin)
	b := newBrowser(t, chromium)
	base := f.srv.URL
	t.Cleanup(func() { t.Logf("axe-core checked (serious+critical violations): %v", b.checked) })

	t.Run("SignInForm", func(t *testing.T) {
		tb := b.newTab(t)
		tb.open(base + "/ui/")
		if loc := tb.location(); !strings.HasPrefix(loc, base+"/ui/login") {
			t.Fatalf("signed out, /ui/ went to %s; want the sign-in form", loc)
		}
		tb.shot("login")
		tb.signIn(base, "alice", users["alice"])
		if loc := tb.location(); loc != base+"/ui/repositories" {
			t.Fatalf("after sign-in at %s, want /ui/repositories", loc)
		}
		if who := tb.text(".who"); !strings.Contains(who, "alice") {
			t.Errorf("header says %q, want alice signed in", who)
		}
		list := tb.text("main")
		for _, repo := range []string{teamRepo, privateRepo} {
			if !strings.Contains(list, repo) {
				t.Errorf("alice's repositories %q lack %s", list, repo)
			}
		}
		cookies := get(tb, func(ctx context.Context, _ *chromedp.Target) (network.GetCookiesResult, error) {
			return chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
		})
		var session *network.Cookie
		for _, c := range cookies.Cookies {
			if c.Name == "imagegate_session" {
				session = c
			}
		}
		if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteLax {
			t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax", session)
		}
		tb.shot("repositories")
	})

	t.Run("SignInByKeyboard", func(t *testing.T) {
		tb := b.newTab(t)
		tb.open(base + "/ui/login")
		// The username field has focus (autofocus); Tab reaches the password, Enter submits.
		tb.run(chromedp.KeyEvent("bob"), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(users["bob"]))
		tb.follow(chromedp.KeyEvent(kb.Enter))
		if who := tb.text(".who"); !strings.Contains(who, "bob") {
			t.Errorf("after a keyboard-only sign-in the header says %q", who)
		}
	})

	t.Run("WrongPasswordFails", func(t *testing.T) {
		tb := b.newTab(t)
		if status := tb.signIn(base, "alice", "not-her-password"); status != http.StatusUnauthorized {
			t.Errorf("wrong password: status %d, want 401", status)
		}
		if msg := tb.text("#signin-error"); msg != "Invalid username or password." {
			t.Errorf("message %q", msg)
		}
		if loc := tb.location(); loc != base+"/ui/login" {
			t.Errorf("a wrong password left the form for %s", loc)
		}
		tb.shot("login-error")
	})

	t.Run("ForgedCrossSitePostRefused", func(t *testing.T) {
		tb := b.newTab(t)
		tb.signIn(base, "alice", users["alice"])
		// Another site (localhost is not 127.0.0.1) whose page posts a sign-out form to the UI.
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/ui/logout"><input name="csrf" value="guess"><button>Win a prize</button></form>`, base)
		}))
		defer evil.Close()
		tb.run(chromedp.Navigate(strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)))
		if status := tb.follow(chromedp.Click(chromedp.CSS("button"))); status != http.StatusForbidden {
			t.Errorf("the forged post: %d, want 403", status)
		}
		if h := tb.text("main h1"); h != "Form refused" {
			t.Errorf("the forged post showed %q, want the refusal", h)
		}
		tb.shot("forged-post-refused")
		tb.open(base + "/ui/repositories")
		if who := tb.text(".who"); !strings.Contains(who, "alice") {
			t.Errorf("after the forged sign-out alice is no longer signed in (%q)", who)
		}
	})

	t.Run("CSRFTokenRequired", func(t *testing.T) {
		// Same-origin requests that pass the Origin check still need the form's token.
		p := newPerson(t, base)
		if status, _ := p.post("/ui/login", url.Values{"username": {"alice"}, "password": {users["alice"]}}); status != http.StatusForbidden {
			t.Errorf("sign-in without its token: %d, want 403", status)
		}
		// A browser's cross-site post is refused by its headers alone, token or not.
		req, _ := http.NewRequest(http.MethodPost, base+"/ui/login", strings.NewReader(url.Values{
			"csrf": {p.token("/ui/login")}, "username": {"alice"}, "password": {users["alice"]}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if resp, err := p.client.Do(req); err != nil {
			t.Fatal(err)
		} else if resp.Body.Close(); resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site sign-in post: %d, want 403", resp.StatusCode)
		}
		p.mustSignIn("alice", users["alice"])
		for _, csrf := range []string{"", "guess"} {
			if status, _ := p.post("/ui/logout", url.Values{"csrf": {csrf}}); status != http.StatusForbidden {
				t.Errorf("sign-out with csrf %q: %d, want 403", csrf, status)
			}
		}
		if status, _ := p.get("/ui/repositories"); status != http.StatusOK {
			t.Fatalf("the refused sign-outs ended the session: %d", status)
		}
		if status, _ := p.post("/ui/logout", url.Values{"csrf": {p.token("/ui/repositories")}}); status != http.StatusSeeOther {
			t.Errorf("sign-out with the token: %d, want 303", status)
		}
		if status, _ := p.get("/ui/repositories"); status != http.StatusSeeOther {
			t.Errorf("after sign-out the session still serves pages (%d)", status)
		}
	})

	t.Run("NoPullNoSight", func(t *testing.T) {
		tb := b.newTab(t)
		tb.signIn(base, "bob", users["bob"])
		if list := tb.text("main"); !strings.Contains(list, teamRepo) || strings.Contains(list, privateRepo) {
			t.Errorf("bob's repositories %q: want %s, not %s", list, teamRepo, privateRepo)
		}
		if status := tb.visit(base + "/ui/repository?name=" + privateRepo); status != http.StatusNotFound {
			t.Errorf("bob opening %s: %d, want 404", privateRepo, status)
		}
		if h := tb.text("main h1"); h != "Not found" {
			t.Errorf("bob opening %s sees %q, want Not found", privateRepo, h)
		}
		tb.shot("not-found")
		p := newPerson(t, base)
		p.mustSignIn("carol", users["carol"])
		if _, body := p.get("/ui/repositories"); strings.Contains(body, teamRepo) || strings.Contains(body, privateRepo) {
			t.Errorf("carol's repositories list shows a repository she may not pull: %s", excerpt(body))
		}
		for _, path := range []string{
			"/ui/repository?name=" + teamRepo,
			"/ui/image?name=" + teamRepo + "&digest=" + f.vulnerable.String(),
		} {
			status, body := p.get(path)
			if status != http.StatusNotFound || strings.Contains(body, "alice") || strings.Contains(body, "CVE-") {
				t.Errorf("carol GET %s: %d, want 404 without its records: %s", path, status, excerpt(body))
			}
		}
	})

	t.Run("ImagePage", func(t *testing.T) {
		tb := b.newTab(t)
		tb.signIn(base, "alice", users["alice"])
		tb.follow(chromedp.Click(`//ul[@class="list"]//a[text()="` + teamRepo + `"]`))
		hist := tb.text("table.history")
		for _, want := range []string{"alice", "docker-push", "accepted", "1.0"} {
			if !strings.Contains(hist, want) {
				t.Errorf("push history %q lacks %q", hist, want)
			}
		}
		tb.shot("repository")
		tb.follow(chromedp.Click(chromedp.CSS(`table.history a[href*="` + f.vulnerable.Hex + `"]`)))
		if n := tb.count("table.layers tbody tr"); n != 1 {
			t.Errorf("%d layer rows, want the fixture's 1", n)
		}
		findings := tb.text("table.findings")
		for _, v := range scantest.VulnerableFindings() {
			if !strings.Contains(findings, v.ID) {
				t.Errorf("findings %q lack %s", findings, v.ID)
			}
		}
		if first := tb.text("table.findings tbody tr"); !strings.HasPrefix(first, "CRITICAL") {
			t.Errorf("findings are not worst first: %q", findings)
		}
		if c := tb.text("dl.labels"); !strings.Contains(c, "org.opencontainers.image.source") || !strings.Contains(c, sourceLabel) {
			t.Errorf("labels %q lack the source label", c)
		}
		if a := tb.text("#analysis-h + dl"); !strings.Contains(a, "Efficiency") {
			t.Errorf("no layer analysis summary: %q", a)
		}
		pull := get(tb, chromedp.Value(chromedp.CSS("#pull-cmd")))
		if want := "docker pull " + f.srv.Addr + "/" + teamRepo + "@" + f.vulnerable.String(); pull != want {
			t.Errorf("pull command %q, want %q", pull, want)
		}
		tb.shot("image")
		tb.run(chromedp.EmulateViewport(390, 844))
		overflow := get(tb, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if overflow {
			t.Errorf("the image page scrolls sideways at phone width")
		}
		tb.shot("image-phone")
	})

	t.Run("Findings", func(t *testing.T) { testFindings(t, b, f) })
	t.Run("Referrers", func(t *testing.T) { testReferrers(t, b, f) })
	t.Run("PushesByUser", func(t *testing.T) { testPushesByUser(t, b, f) })
	t.Run("LastPull", func(t *testing.T) { testLastPull(t, b, f) })

	t.Run("Upload", func(t *testing.T) {
		tb := b.newTab(t)
		tb.signIn(base, "alice", users["alice"])
		upload := func(file, repo, tag string) string {
			tb.open(base + "/ui/upload")
			tb.run(
				chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}),
				chromedp.SendKeys(chromedp.CSS("#repository"), repo),
				chromedp.SendKeys(chromedp.CSS("#tag"), tag),
				chromedp.Click(chromedp.CSS(`#upload-form button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS("#upload-result")),
			)
			return tb.text("#verdict")
		}
		archive := outcomes.WriteTarball(t, outcomes.VulnerableImage(t), "example.test/any:1")
		if v := upload(archive, teamRepo, "2.0"); !strings.HasPrefix(v, "Accepted") || !strings.Contains(v, teamRepo+":2.0") {
			t.Errorf("verdict %q, want accepted %s:2.0", v, teamRepo)
		}
		// The bar follows the upload's event stream to its end.
		progress := get(tb, chromedp.Poll[string](`document.getElementById("stage").dataset.stage === "done" && document.getElementById("bar").value + " " + document.getElementById("stage").textContent`))
		if !strings.HasPrefix(progress, "100 done:") {
			t.Errorf("progress at the end: %q, want 100 %% done", progress)
		}
		tb.shot("upload-accepted")
		if v := upload(archive, strictRepo, "1.0"); !strings.HasPrefix(v, "Refused (403 DENIED)") || !strings.Contains(v, "vulnerabilit") {
			t.Errorf("verdict %q, want the gate's refusal naming the vulnerabilities", v)
		}
		if end := get(tb, chromedp.Poll[string](`document.getElementById("stage").dataset.stage === "failed" && document.getElementById("stage").textContent`)); !strings.HasPrefix(end, "failed:") {
			t.Errorf("progress of the refused upload ends %q", end)
		}
		tb.shot("upload-refused")
		p := newPerson(t, base)
		p.mustSignIn("alice", users["alice"])
		if status, _ := p.post("/ui/upload-image?repository="+teamRepo, nil); status != http.StatusForbidden {
			t.Errorf("an upload without the CSRF header: %d, want 403", status)
		}
	})

	t.Run("Robots", func(t *testing.T) { testRobots(t, b, f) })
	t.Run("Status", func(t *testing.T) { testStatus(t, b, f) })
	t.Run("SignInOIDC", func(t *testing.T) { testOIDC(t, b, f) })
	t.Run("OIDCSession", func(t *testing.T) { testOIDCSession(t, b, f) })

	t.Run("LockoutSharedWithTokenEndpoint", func(t *testing.T) {
		p := newPerson(t, base)
		// auth.lockout's default: 5 failures lock the (user, address) pair.
		for i := range 5 {
			if status, _ := p.signIn("dave", "wrong"); status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d, want 401", i+1, status)
			}
		}
		status, body := p.signIn("dave", users["dave"])
		if status != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed sign-ins") {
			t.Errorf("the right password while locked: %d, want 429 saying so: %s", status, excerpt(body))
		}
		req, _ := http.NewRequest(http.MethodGet, base+"/auth/token?service=imagegate", nil)
		req.SetBasicAuth("dave", users["dave"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("the token endpoint after the form's failures: %d, want 429 (one lockout)", resp.StatusCode)
		}
	})

	t.Run("ContentSecurityPolicy", func(t *testing.T) {
		p := newPerson(t, base)
		p.mustSignIn("alice", users["alice"])
		for _, path := range []string{"/ui/login", "/ui/repositories", "/ui/repository?name=" + teamRepo, "/ui/nothing"} {
			resp, err := p.client.Get(base + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Content-Security-Policy"); got != ui.ContentSecurityPolicy {
				t.Errorf("GET %s: CSP %q", path, got)
			}
		}
		if problems := b.takeProblems(); len(problems) > 0 {
			t.Errorf("the pages reported: %q", problems)
		}
		// The check above would see a violation: an inline script is refused, and reported.
		tb := b.newTab(t)
		tb.open(base + "/ui/login")
		get(tb, chromedp.Evaluate[any](`{const s=document.createElement("script"); s.textContent="window.inlineRan=1"; document.body.append(s);}`))
		ran := get(tb, chromedp.Evaluate[bool](`window.inlineRan === 1`))
		if ran {
			t.Errorf("an inline script ran despite the policy")
		}
		if problems := b.takeProblems(); len(problems) == 0 || !strings.HasPrefix(problems[0], "csp:") {
			t.Errorf("the refused inline script was not reported: %q", problems)
		}
	})
}

// count is the number of elements matching sel.
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return get(tb, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
}

// TestUIOff: with ui.enabled false, /ui/ is not served.
func TestUIOff(t *testing.T) {
	bin := liveserver.RequireBinary(t, "IMAGEGATE_BIN")
	srv := liveserver.Start(t, bin, "IMAGEGATE_UI_ENABLED=false")
	for _, path := range []string{"/ui/", "/ui/login", "/ui/static/app.css"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s with the UI off: %d, want 404", path, resp.StatusCode)
		}
	}
}
